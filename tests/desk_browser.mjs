// desk_browser.mjs BUILD_DIR: the reception desk (server/desk.html served by hcs) in a real
// browser: Debian's Chromium driven by playwright-core (tests/desk/node_modules), while real
// patients book and wait on the center's TCP port. Run by tests/test_desk_browser.sh, which
// installs what this needs. Every wait is bounded and waits for an event (a line printed, a
// selector), never for a time. Exits 0 when all passed, 1 with the reason otherwise.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(new URL('./desk/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const build = path.resolve(process.argv[2] || 'build');
const HCS = path.join(build, 'hcs');
const PATIENT = path.join(build, 'patient');
const STAFF = { username: 'reception', password: 'desk-Pa55word' };
// Names are tokens: no space or control byte, anything else, so the page must not parse them.
const USER1 = { name: 'zoë<b>&"1"', password: 'password111' };
const USER2 = { name: 'patient2', password: 'password222' };
const SLOTS = [
  [1, 'Tue', '01pm', 'o\'neil<i>"é"', 43000],
  [2, 'Mon', '03pm', 'doc2', 42000],
  [3, 'Mon', '09am', 'doc1', 41000],
  [4, 'Wed', '10am', 'doc2', 42000],
];
const T = { start: 5000, step: 3000, live: 1000 }; // ms: a process starting, one step, a booking seen

const t0 = Date.now();
const children = [];
let browser = null, hcs = null, tmp = null, step = 'setting up';

function log(msg) { console.log(`desk_browser: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`); }
class Failure extends Error {}
function fail(msg) { throw new Failure(msg); }
function check(cond, msg) { if (!cond) fail(msg); }

// Text from a stream, kept whole, searched by regex: lines and prompts without a newline alike.
class Watch {
  constructor(name, stream) {
    this.name = name; this.text = ''; this.waiters = []; this.ended = false;
    stream.setEncoding('utf8');
    stream.on('data', (d) => { this.text += d; this.poke(); });
    stream.on('end', () => { this.ended = true; this.poke(); });
    stream.on('error', () => { this.ended = true; this.poke(); });
  }
  poke() { for (const w of [...this.waiters]) w(); }
  // Resolve with the match of re in the text after the offset `from` (default: the last match).
  wait(re, ms, what, from = this.mark ?? 0) {
    return new Promise((resolve, reject) => {
      const done = (f) => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== tick); f(); };
      const tick = () => {
        const m = re.exec(this.text.slice(from));
        if (m) { this.mark = from + m.index + m[0].length; return done(() => resolve(m)); }
        if (this.ended) done(() => reject(new Failure(`${this.name} ended before ${what}; it said:\n${this.text}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Failure(
        `no ${what} from ${this.name} within ${ms} ms; it said:\n${this.text.slice(from)}`))), ms);
      this.waiters.push(tick);
      tick();
    });
  }
}

function start(name, file, args, opts = {}) {
  const p = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  p.name = name;
  p.out = new Watch(`${name} stdout`, p.stdout);
  p.err = new Watch(`${name} stderr`, p.stderr);
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig })));
  p.on('error', (e) => { p.out.ended = p.err.ended = true; p.out.text += `(${e.message})`; p.out.poke(); });
  children.push(p);
  return p;
}

async function exitOf(p, ms) {
  let timer;
  const r = await Promise.race([p.exited, new Promise((res) => { timer = setTimeout(() => res(null), ms); })]);
  clearTimeout(timer);
  if (r === null) fail(`${p.name} did not exit within ${ms} ms`);
  return r;
}

// A raw patient on the center's TCP port: lines in, lines out.
async function tcpPatient(name, port) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  const c = { name, sock, in: new Watch(name, sock) };
  c.send = (line) => sock.write(line + '\n');
  c.expect = async (re, what, ms = T.step) => (await c.in.wait(re, ms, what));
  return c;
}

function write(name, text, mode = 0o644) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text, { mode });
  return f;
}

async function main() {
  for (const f of [HCS, PATIENT]) check(fs.existsSync(f), `${f} is missing: build it first`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcs-desk-'));

  step = 'hashing the staff password with hcs passwd';
  const pw = spawnSync(HCS, ['passwd', STAFF.username], { input: STAFF.password + '\n', encoding: 'utf8', timeout: 10000 });
  check(pw.status === 0 && /^\S+ \$\S+\n$/.test(pw.stdout), `hcs passwd failed (status ${pw.status}): ${pw.stderr}${pw.stdout}`);
  write('staff.txt', pw.stdout, 0o600);
  write('users.txt', `${USER1.name} ${USER1.password}\n${USER2.name} ${USER2.password}\n`, 0o600);
  write('availabilities.txt', SLOTS.map((s) => s.join(' ') + '\n').join(''));
  const conf = write('center.conf', '[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\n' +
    'availabilities = availabilities.txt\n\n[desk]\nlisten = 127.0.0.1\nport = 0\nstaff = staff.txt\n');

  step = 'starting hcs';
  hcs = start('hcs', HCS, ['--config', conf]);
  const [, port] = await hcs.out.wait(
    /Phase 1: The Health Center Server has port number (\d+) and IP address 127\.0\.0\.1\.\n/, T.start, 'start-up line');
  const [, url] = await hcs.err.wait(/hcs: desk: (http:\/\/127\.0\.0\.1:\d+\/)\n/, T.start, 'desk line');
  log(`hcs: patients on port ${port}, desk at ${url}`);

  step = 'opening the desk in Chromium';
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ httpCredentials: STAFF, viewport: { width: 1000, height: 720 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T.step);
  const problems = [], elsewhere = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The 409 the test provokes is logged by Chromium itself.
    if (m.type() === 'error' && !/^Failed to load resource: .* status of 409 /.test(m.text()))
      problems.push(`console error: ${m.text()}`);
  });
  page.on('request', (r) => { if (!r.url().startsWith(url) && !r.url().startsWith('data:')) elsewhere.push(r.url()); });
  const resp = await page.goto(url);
  check(resp.status() === 200, `GET / answered ${resp.status()}`);
  check(/^text\/html; ?charset=utf-8$/i.test(resp.headers()['content-type'] || ''),
    `GET / has Content-Type ${resp.headers()['content-type']}`);
  await page.waitForSelector('#live[data-live="live"]');

  step = 'the schedule as loaded';
  await page.waitForSelector('[data-slot="4"]');
  check(await page.locator('[data-slot][data-state="free"]').count() === 4, 'the page does not show the 4 slots free');
  check(await page.locator('[data-slot][data-state="booked"]').count() === 0, 'the page shows a booked slot');
  const cols = await page.locator('table thead th').allTextContents();
  check(JSON.stringify(cols) === JSON.stringify(['Time', 'Mon', 'Tue', 'Wed']), `day columns ${JSON.stringify(cols)}`);
  const rows = await page.locator('table tbody th[scope="row"]').allTextContents();
  check(JSON.stringify(rows) === JSON.stringify(['09am', '10am', '01pm', '03pm']), `time rows ${JSON.stringify(rows)}`);
  const cell = await page.locator('td[data-day="Mon"][data-time="03pm"] [data-slot="2"]').textContent();
  check(cell.includes('#2') && cell.includes('doc2') && cell.includes('free'), `slot 2 shows "${cell}"`);
  const cell1 = await page.locator('[data-slot="1"]').textContent();
  check(cell1.includes(SLOTS[0][3]) && await page.locator('[data-slot="1"] i').count() === 0,
    `slot 1 shows "${cell1}", not the doctor ${SLOTS[0][3]} as text`);
  log('the page shows the 4 slots free, days across, times down');

  step = 'a patient books slot 2';
  const pdir = path.join(tmp, 'patient');
  fs.mkdirSync(pdir);
  fs.writeFileSync(path.join(pdir, 'patient1.txt'), `${USER1.name} ${USER1.password}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(pdir, 'patient1insurance.txt'), 'insurance1\n');
  fs.writeFileSync(path.join(pdir, 'patient1.conf'), `[patient]\nid = 1\ncenter_host = 127.0.0.1\n` +
    `center_port = ${port}\ncredentials = patient1.txt\ninsurance = patient1insurance.txt\n` +
    'timeout_ms = 200\nudp_retries = 0\n');
  const patient = start('patient', PATIENT, ['--config', path.join(pdir, 'patient1.conf')]);
  await patient.out.wait(/Please enter the preferred appointment index and press enter: $/, T.start, 'prompt');
  patient.stdin.write('2\n');
  await patient.out.wait(/Phase 2: The requested appointment is available and reserved to Patient 1\./, T.step, 'booking');
  const booked = '[data-slot="2"][data-state="booked"]';
  await page.waitForSelector(booked, { timeout: T.live });
  const text2 = await page.locator(booked).textContent();
  check(text2.includes(`booked by ${USER1.name}`), `slot 2 shows "${text2}", not booked by ${USER1.name}`);
  check(await page.locator('[data-slot="2"] b').count() === 0, 'the user name was parsed as HTML');
  check(await page.locator(`${booked} [data-action="cancel"]`).count() === 1, 'booked slot 2 has no cancel button');
  check(await page.locator('[data-slot="2"] [data-action="remove"]').count() === 0, 'booked slot 2 has a remove button');
  log('slot 2 shows booked by the patient within a second, no reload');
  // No doctor listens: phase 3 ends at once (refused) or after its one short wait; the booking stands.
  // (4; 0 should a doctor of another run listen on 127.0.0.1 port 42000).
  const pst = await exitOf(patient, T.step);
  check(pst.code === 4 || pst.code === 0, `patient exited ${pst.code} (${pst.sig}); it said:\n${patient.out.text}`);

  step = 'a waiting patient is told of a slot removed on the page';
  const p2 = await tcpPatient('patient2 (TCP)', Number(port));
  p2.send(`authenticate ${USER2.name} ${USER2.password}`);
  await p2.expect(/^success\n/, 'success');
  p2.send('available');
  await p2.expect(/^slots 3\n1 Tue 01pm\n3 Mon 09am\n4 Wed 10am\n/, 'the list of 3 free slots');
  const removed = page.waitForResponse((r) => r.url() === `${url}api/slots/4` && r.request().method() === 'DELETE');
  await page.focus('[data-slot="4"] [data-action="remove"]'); // by keyboard
  await page.keyboard.press('Enter');
  const rr = await removed;
  check(rr.status() === 200, `DELETE /api/slots/4 answered ${rr.status()}: ${await rr.text()}`);
  check(JSON.stringify(await rr.json()) === '{"removed":4}', `DELETE /api/slots/4 said ${await rr.text()}`);
  await p2.expect(/^\* removed 4\n/m, '"* removed 4"');
  await page.waitForSelector('[data-slot="4"]', { state: 'detached', timeout: T.step });
  await page.waitForSelector('table thead th:has-text("Wed")', { state: 'detached', timeout: T.step });
  check(await page.evaluate(() => document.activeElement !== document.body), 'the focus was lost with the slot');
  log('removed slot 4 on the page: the waiting patient got "* removed 4", the Wed column went');

  step = 'adding a slot with the form';
  await page.fill('#add [name="index"]', '7');
  await page.selectOption('#add [name="day"]', 'Thu');
  await page.fill('#add [name="time"]', '9am');
  await page.fill('#add [name="doctor"]', 'doc1');
  await page.fill('#add [name="port"]', '41000');
  await page.click('#add button[type="submit"]');
  check((await page.textContent('#add-error')).includes('time'), 'the form took the time "9am"');
  await page.fill('#add [name="time"]', '09am');
  const added = page.waitForResponse((r) => r.url() === `${url}api/slots` && r.request().method() === 'POST');
  await page.click('#add button[type="submit"]');
  const ar = await added;
  check(ar.status() === 201, `POST /api/slots answered ${ar.status()}: ${await ar.text()}`);
  await p2.expect(/^\* added 7 Thu 09am\n/m, '"* added 7 Thu 09am"');
  await page.waitForSelector('td[data-day="Thu"][data-time="09am"] [data-slot="7"][data-state="free"]', { timeout: T.step });
  // A used index: the page says so itself; a page that has not heard of slot 7 yet (another
  // desk just added it) shows the server's own refusal.
  await page.fill('#add [name="index"]', '3');
  await page.fill('#add [name="time"]', '11am');
  await page.click('#add button[type="submit"]');
  check(/already exists/.test(await page.textContent('#add-error')), 'the page let a used index through');
  await page.evaluate(() => { window.seen7 = slots.get(7); slots.delete(7); }); // eslint-disable-line no-undef
  await page.fill('#add [name="index"]', '7');
  const refused = page.waitForResponse((r) => r.url() === `${url}api/slots` && r.request().method() === 'POST');
  await page.click('#add button[type="submit"]');
  const fr = await refused, fbody = await fr.text();
  check(fr.status() === 409 && /^\{"error":".+"\}\n?$/.test(fbody), `POST of a used index answered ${fr.status()} ${fbody}, expected 409 {"error":...}`);
  await page.waitForFunction((e) => document.getElementById('add-error').textContent.includes(e), JSON.parse(fbody).error);
  await page.evaluate(() => slots.set(7, window.seen7)); // eslint-disable-line no-undef
  await page.fill('#add [name="index"]', '8');
  await page.click('#add button[type="submit"]');
  await page.waitForSelector('td[data-day="Thu"][data-time="11am"] [data-slot="8"][data-state="free"]', { timeout: T.step });
  check(await page.textContent('#add-error') === '', 'the error stayed after a slot was added');
  log('added slots 7 and 8 with the form: on the page and pushed; a used index is refused, with the server\'s 409 text shown');

  step = 'cancelling the booking of slot 2 on the page';
  const dialogs = [];
  page.once('dialog', (d) => { dialogs.push(d.message()); d.accept(); });
  const cancelled = page.waitForResponse((r) => r.url() === `${url}api/bookings/2` && r.request().method() === 'DELETE');
  await page.click('[data-slot="2"] [data-action="cancel"]');
  const cr = await cancelled;
  check(cr.status() === 200, `DELETE /api/bookings/2 answered ${cr.status()}: ${await cr.text()}`);
  check(JSON.stringify(await cr.json()) === JSON.stringify({ cancelled: 2, user: USER1.name }),
    `DELETE /api/bookings/2 said ${await cr.text()}`);
  check(dialogs.length === 1 && dialogs[0].includes('slot 2'), `confirmation: ${JSON.stringify(dialogs)}`);
  await page.waitForSelector('[data-slot="2"][data-state="free"]', { timeout: T.live });
  await p2.expect(/^\* released 2 Mon 03pm\n/m, '"* released 2 Mon 03pm"');
  check(await page.evaluate(() => document.activeElement.dataset.action !== 'remove'),
    'after a cancel the focus is on the slot\'s "remove": a second Enter would remove it');
  log('cancelled the booking of slot 2 on the page after the confirmation: free again, and pushed');

  step = 'the waiting patient books slot 3';
  p2.send('selection 3');
  await p2.expect(/^doc1 41000\n/m, '"doc1 41000"');
  await page.waitForSelector(`[data-slot="3"][data-state="booked"]:has-text("booked by ${USER2.name}")`, { timeout: T.live });
  log('slot 3 booked over TCP shows on the page');

  step = 'the keyboard and the phone layout';
  for (const name of ['Index', 'Day', 'Time', 'Doctor', 'Port'])
    check(await page.getByLabel(name, { exact: true }).count() === 1, `no form field labelled ${name}`);
  await page.evaluate(() => document.activeElement.blur());
  await page.screenshot({ path: path.join(build, 'desk.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 800 });
  await page.waitForSelector('section.day h3', { timeout: T.step });
  check(await page.locator('table').count() === 0, 'a table on a phone-wide screen');
  const days = await page.locator('section.day h3').allTextContents();
  check(JSON.stringify(days) === JSON.stringify(['Mon', 'Tue', 'Thu']), `day groups ${JSON.stringify(days)}`);
  check(await page.locator('[data-slot]').count() === 5, 'the phone layout lost slots');
  await page.screenshot({ path: path.join(build, 'desk-phone.png'), fullPage: true });
  log(`screenshots: ${path.join(build, 'desk.png')}, desk-phone.png`);

  check(problems.length === 0, `the page reported:\n${problems.join('\n')}`);
  check(elsewhere.length === 0, `the page fetched from elsewhere: ${elsewhere.join(' ')}`);

  step = 'stopping hcs';
  p2.sock.destroy();
  hcs.kill('SIGTERM');
  const st = await exitOf(hcs, T.start);
  check(st.code === 0, `hcs exited with ${st.code} (${st.sig}) on SIGTERM, expected 0; stderr:\n${hcs.err.text}`);
  await page.waitForSelector('#live[data-live="reconnecting"]', { timeout: T.step });
  log('hcs exited 0 on SIGTERM; the page says reconnecting');

  step = 'hcs back on the same ports: the page reconnects and takes the new snapshot';
  const deskPort = new URL(url).port;
  write('center.conf', fs.readFileSync(conf, 'utf8').replace('port = 0\nusers', `port = ${port}\nusers`)
    .replace(/port = 0\nstaff/, `port = ${deskPort}\nstaff`));
  hcs = start('hcs (again)', HCS, ['--config', conf]);
  await hcs.err.wait(new RegExp(`hcs: desk: ${url.replace(/[.]/g, '\\.')}\n`), T.start, 'desk line on the same port');
  // The bookings were in memory: slot 3 is free again; the desk's changes were written to the file.
  await page.waitForSelector('#live[data-live="live"]', { timeout: T.start });
  await page.waitForSelector('[data-slot="3"][data-state="free"]', { timeout: T.step });
  check(JSON.stringify(await page.$$eval('[data-slot]', (v) => v.map((e) => +e.dataset.slot).sort((a, b) => a - b))) ===
    '[1,2,3,7,8]', 'the page does not show slots 1, 2, 3, 7 and 8 after the restart');
  check(await page.locator('.stale').count() === 0, 'the page still looks stale');
  hcs.kill('SIGTERM');
  const st2 = await exitOf(hcs, T.start);
  check(st2.code === 0, `hcs exited with ${st2.code} (${st2.sig}) on SIGTERM, expected 0; stderr:\n${hcs.err.text}`);
  log('the page went live again on its own with the restarted center\'s schedule');
}

let status = 0;
const guard = setTimeout(() => { console.error(`desk_browser: FAIL: over 120 s at: ${step}`); cleanup().then(() => process.exit(1)); }, 120000);
async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill(p === hcs ? 'SIGTERM' : 'SIGKILL');
  if (hcs && hcs.exitCode === null && hcs.signalCode === null) {
    const r = await Promise.race([hcs.exited, new Promise((res) => setTimeout(() => res(null), 3000))]);
    if (r === null) hcs.kill('SIGKILL');
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}
try {
  await main();
  log(`PASS in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  status = 1;
  console.error(`desk_browser: FAIL while ${step}: ${e instanceof Failure ? e.message : e.stack || e}`);
}
await cleanup();
if (status !== 0 && hcs) {
  // After cleanup: hcs has exited and what it wrote last has been read.
  const ended = new Promise((res) => { if (hcs.err.ended) res(); else hcs.stderr.once('close', res); });
  await Promise.race([ended, new Promise((res) => setTimeout(res, 1000))]);
  console.error(`desk_browser: ${hcs.name} exited with ${hcs.exitCode ?? hcs.signalCode}; its stderr:\n${hcs.err.text}`);
}
clearTimeout(guard);
process.exit(status);
