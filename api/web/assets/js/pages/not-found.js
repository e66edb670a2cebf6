import { start } from '../lib/layout.js';

start({ auth: 'optional' });
