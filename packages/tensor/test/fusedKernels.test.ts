import { fusedKernelSuite } from './helpers/fusedSuite.js';

fusedKernelSuite(1);
