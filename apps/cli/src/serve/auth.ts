import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './httpError.js';

/**
 * `--api-key`: a check that throws 401 unless the request carries `Authorization: Bearer KEY`.
 * Keys are compared as SHA-256 digests with timingSafeEqual: equal lengths whatever was sent, and no
 * early exit on the first differing byte, so timing tells nothing about the key.
 */
export function bearerCheck(apiKey: string): (req: IncomingMessage) => void {
  const expected = digest(apiKey);
  return (req) => {
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const sent = match?.[1]?.trim() ?? '';
    if (!timingSafeEqual(digest(sent), expected) || sent === '') {
      throw new HttpError(
        401,
        'missing or wrong API key: send the header "Authorization: Bearer <key>"',
        'invalid_request_error',
        null,
        { 'www-authenticate': 'Bearer' },
      );
    }
  };
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
