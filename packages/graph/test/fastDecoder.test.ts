import { fastDecoderSuite } from './fastSuite.js';

fastDecoderSuite(1);
