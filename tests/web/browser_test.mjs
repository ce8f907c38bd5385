// browser_test.mjs - drives the herald web console (web/) in Debian's headless Chromium for
// test_web.c, which owns the cluster, the push and the herald-cli listener. Steps, each bounded:
//   1. open URL, log in as NAME in ROOM, wait until connected; print "ready mid=<mid>"
//   2. wait until the log shows a push whose body is PUSH_TEXT (test_web.c sends it with curl)
//   3. send "@PEER PRIVATE_TEXT" and ROOM_TEXT; wait for the room message to come back
//      (room messages reach every member, the sender too) and for no error in the log
//   4. list the online users (NAME among them), change room (op 12/13), and see the op 5 error
//      of a message over the comet's size limit
//   5. revoke the page's token and drop its connection: the reconnect is refused (op 6
//      {"reason":"auth"}), the page logs in again and is connected with a new token
//   6. print "done" and exit 0. Any failure: "FAIL: why" and the page's log on stderr, exit 1.
// With HERALD_WEB_MODE=drain the steps after 1 are instead: the page is told its comet drains
// (test_web.c sends SIGTERM), moves to the other comet and shows PUSH_TEXT (pushed during the
// drain) and PRIVATE_TEXT (pushed after the old comet exited), with no error in the log.
// With HERALD_WEB_SCREENSHOT=<file.png> in the environment, the page's last state is saved there.
// With HERALD_WEB_SPKI=<base64 SHA-256 of a certificate's public key>, Chromium accepts that one
// certificate (the test's, made at run time) for https:// and wss://, and no other.
// Usage: node browser_test.mjs URL NAME ROOM PEER PUSH_TEXT PRIVATE_TEXT ROOM_TEXT
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 15000;

const [url, name, room, peer, pushText, privateText, roomText] = process.argv.slice(2);
if (!roomText) {
  console.error('usage: node browser_test.mjs URL NAME ROOM PEER PUSH_TEXT PRIVATE_TEXT ROOM_TEXT');
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), 'herald-chromium-'));
let context = null;
let page = null;

async function logText() {
  return page ? page.locator('#log li').allInnerTexts().catch(() => []) : [];
}

// Waits until a log line of class `kind` contains `text`.
async function expectLog(kind, text) {
  await page.locator(`#log li.${kind}`, { hasText: text }).first()
    .waitFor({ timeout: STEP_MS })
    .catch(() => { throw new Error(`the log never showed a ${kind} line with "${text}"`); });
}

async function run() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(process.env.HERALD_WEB_SPKI
        ? [`--ignore-certificate-errors-spki-list=${process.env.HERALD_WEB_SPKI}`] : [])],
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));

  const res = await page.goto(url, { timeout: STEP_MS });
  if (!res || res.status() !== 200) throw new Error(`GET ${url}: status ${res && res.status()}`);
  if ((await page.title()) !== 'herald console') throw new Error(`title "${await page.title()}"`);

  await page.fill('#name', name);
  await page.fill('#password', 'web-password');
  await page.fill('#room', room);
  await page.click('#login');
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: STEP_MS })
    .catch(async () => {
      const why = await page.locator('#login-error').innerText().catch(() => '');
      throw new Error(`never connected ${why}`);
    });
  const mid = await page.locator('#me-mid').getAttribute('data-mid');
  if (!/^[0-9]+$/.test(mid || '')) throw new Error(`no mid on the page: ${mid}`);
  console.log(`ready mid=${mid}`);
  if (process.env.HERALD_WEB_MODE === 'drain') return runDrain(mid);

  await expectLog('push', pushText);

  await page.fill('#text', `@${peer} ${privateText}`);
  await page.press('#text', 'Enter');
  await expectLog('private', `to ${peer} (private): ${privateText}`);
  await page.fill('#text', roomText);
  await page.press('#text', 'Enter');
  await expectLog('msg', `${name}: ${roomText}`);

  const errors = await page.locator('#log li.error').allInnerTexts();
  if (errors.length > 0) throw new Error(`errors in the log: ${errors.join(' | ')}`);
  if (!(await page.locator('#login-form').isHidden())) throw new Error('login form still shown');

  await page.click('#online');
  await expectLog('info', `online: `);
  const online = await page.locator('#log li.info', { hasText: 'online: ' }).first().innerText();
  if (!online.includes(name)) throw new Error(`"${online}" lacks ${name}`);

  // Op 12: the reply (op 13) moves the page to the new room.
  await page.fill('#new-room', 'live://elsewhere');
  await page.press('#new-room', 'Enter');
  await expectLog('info', 'now in room live://elsewhere');
  // Op 5 errors are shown: a message over the comet's protocol.max_msg (2k) is refused.
  await page.fill('#text', 'x'.repeat(3000));
  await page.press('#text', 'Enter');
  await expectLog('error', 'not sent (-1001');

  // A refused auth is op 6 {"reason":"auth",...} (docs/protocol.md): the page logs in again.
  const oldToken = await page.evaluate(async () => {
    const token = session.user.token;
    const r = await fetch(`/herald/v1/tokens?token=${encodeURIComponent(token)}`, { method: 'DELETE' });
    if (r.status !== 200) throw new Error(`DELETE /herald/v1/tokens: ${r.status}`);
    session.ws.close();
    return token;
  });
  await expectLog('error', 'auth refused: unknown or expired token; logging in again');
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: STEP_MS })
    .catch(() => { throw new Error('not connected again after the refused auth'); });
  if ((await page.evaluate(() => session.user.token)) === oldToken)
    throw new Error('connected again with the revoked token');
  console.log('done');
}

// The comet the page is on drains: a notice, a move to the other comet, every push once.
async function runDrain(mid) {
  await expectLog('info', 'the comet is going away');
  await page.waitForFunction(() => [...document.querySelectorAll('#log li.info')]
    .filter((li) => li.textContent.includes('connected to')).length >= 2, null,
  { timeout: STEP_MS })
    .catch(() => { throw new Error('the page never connected to another comet'); });
  await expectLog('push', pushText);
  await expectLog('push', privateText);
  for (const text of [pushText, privateText]) {
    const n = await page.locator('#log li.push', { hasText: text }).count();
    if (n !== 1) throw new Error(`"${text}" shown ${n} times`);
  }
  const errors = await page.locator('#log li.error').allInnerTexts();
  if (errors.length > 0) throw new Error(`errors in the log: ${errors.join(' | ')}`);
  if ((await page.locator('#me-mid').getAttribute('data-mid')) !== mid)
    throw new Error('another user after the move');
  console.log('done');
}

let failed = false;
try {
  await run();
} catch (e) {
  failed = true;
  console.log(`FAIL: ${e.message}`);
  console.error(`page log:\n${(await logText()).join('\n')}`);
} finally {
  const shot = process.env.HERALD_WEB_SCREENSHOT; // test_web.c keeps it with the cluster's logs
  if (page && shot) await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
