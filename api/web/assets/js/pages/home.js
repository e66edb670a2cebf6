import { start } from '../lib/layout.js';
import { $ } from '../lib/dom.js';

const me = start({ auth: 'optional' });
$('#signed-out').hidden = Boolean(me);
