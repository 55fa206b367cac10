import { storiesFastSuite } from './fastSuite.js';

storiesFastSuite(1);
