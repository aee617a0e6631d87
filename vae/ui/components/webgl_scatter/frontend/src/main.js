// The bundle's entry: in a Web Worker (no document) it builds spatial indexes (kdworker.js); in the page it is
// the component (index.js).
import { workerMain } from './kdworker.js';

if (typeof document === 'undefined') workerMain();
else import('./index.js');
