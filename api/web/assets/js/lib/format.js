// Dates and numbers as people in the trust read them (en-GB).

const dateTime = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const dateOnly = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
const monthYear = new Intl.DateTimeFormat('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' });
const dayMonth = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

/** A `Date` scalar (YYYY-MM-DD), as a date. */
export function day(isoDate) {
  if (!isoDate) return '';
  const [y, m, d] = isoDate.split('-').map(Number);
  return dateOnly.format(new Date(y, m - 1, d));
}

export function month(isoDate) {
  const [y, m] = isoDate.split('-').map(Number);
  return monthYear.format(new Date(Date.UTC(y, m - 1, 1)));
}

export function shortDay(isoDate) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return dayMonth.format(new Date(Date.UTC(y, m - 1, d)));
}

export function number(n, digits = 0) {
  if (n == null || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A file's size as people read it: "820 bytes", "14 KB", "3.2 MB" (1 KB = 1024 bytes). */
export function bytes(n) {
  if (n == null || Number.isNaN(n)) return '–';
  if (n < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${number(v, v < 10 ? 1 : 0)} ${units[i]}`;
}

export function percent(n) {
  return n == null ? '–' : `${number(n, 1)}%`;
}

export function hours(h) {
  if (h == null) return '–';
  if (h < 48) return `${number(h, 1)} hours`;
  return `${number(h / 24, 1)} days`;
}

/** Today as YYYY-MM-DD in local time. */
export function todayIso(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function addDays(isoDate, n) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return todayIso(new Date(y, m - 1, d + n));
}

/** How long ago, in words: "3 days ago". */
export function ago(iso, now = Date.now()) {
  const mins = Math.round((now - new Date(iso).getTime()) / 60000);
  if (mins < 1) return 'just now';
  if (mins < 60) return `${mins} minute${mins === 1 ? '' : 's'} ago`;
  const hrs = Math.round(mins / 60);
  if (hrs < 48) return `${hrs} hour${hrs === 1 ? '' : 's'} ago`;
  const days = Math.round(hrs / 24);
  return `${days} days ago`;
}
