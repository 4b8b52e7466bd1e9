// The managers' page of syncd in a real browser: Debian's headless Chromium,
// driven by playwright-core. A real syncd on a fresh SQLite file, set up with
// its own CLI; the page is used the way a person would, with JavaScript
// turned off to show it needs none. Screenshots go to $SYNCD_BROWSER_OUT.
//
// Run by tests/run.sh (the README's test command); alone:
//   cargo build --bin syncd && (cd tests/browser && npm ci && npm test)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SYNCD = process.env.SYNCD_BIN ?? join(root, 'target', 'debug', 'syncd');
const OUT = process.env.SYNCD_BROWSER_OUT ?? join(root, 'target', 'browser');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Flags for Chromium on a machine with no network beyond loopback.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const PASSWORD = 'correct horse battery staple';

let workdir, database, syncd, syncdLog = '', base, token, attacker, attackerBase, browser;
const ids = {};

/** Runs the syncd CLI on the test database; returns stdout. */
function cli(args, input) {
  const r = spawnSync(SYNCD, ['--database-url', database, ...args], {
    input, encoding: 'utf8', env: { ...process.env, RUST_LOG: 'warn' },
  });
  assert.equal(r.status, 0, `syncd ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Starts `syncd serve` on a free port; resolves to its base URL. */
function startSyncd() {
  return new Promise((resolveBase, reject) => {
    syncd = spawn(SYNCD, ['--database-url', database, 'serve', '--bind', '127.0.0.1:0'], {
      env: { ...process.env, RUST_LOG: 'info', SYNCD_ALLOWED_ORIGINS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const timer = setTimeout(() => reject(new Error(`syncd did not start:\n${syncdLog}`)), 30000);
    syncd.stderr.setEncoding('utf8');
    syncd.stderr.on('data', (chunk) => {
      syncdLog += chunk;
      const m = syncdLog.match(/syncd listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolveBase(m[1]); }
    });
    syncd.on('exit', (code) => reject(new Error(`syncd exited (${code}):\n${syncdLog}`)));
  });
}

/** The API as a script sees it: XML with the manager's token. */
async function api(path, init = {}) {
  const res = await fetch(base + path, {
    ...init, headers: { 'X-API-KEY': token, ...(init.headers ?? {}) },
  });
  return { status: res.status, body: await res.text() };
}

async function membershipIds() {
  const r = await api('/user-group-memberships.xml');
  assert.equal(r.status, 200);
  return [...r.body.matchAll(/<user-group-membership>\s*<id type="integer">(\d+)<\/id>/g)]
    .map((m) => Number(m[1]));
}

/** A page on another site whose form posts itself to syncd on load. */
function startAttacker() {
  attacker = createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    const forms = {
      '/add.html': `<form method="post" action="${base}/user-group-memberships">
          <input name="user_group_membership[user_id]" value="${ids.bob}">
          <input name="user_group_membership[user_group_id]" value="${ids.editors}">
        </form>`,
      '/delete.html': `<form method="post" action="${base}/user-group-memberships/${ids.standing}">
          <input name="_method" value="delete">
        </form>`,
    };
    if (!forms[pathname]) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!DOCTYPE html><title>Win a prize</title>${forms[pathname]}
      <script>document.forms[0].submit()</script>`);
  });
  return new Promise((ok) => attacker.listen(0, '127.0.0.1', () => ok(attacker.address().port)));
}

/** A fresh browser context signed in with Basic credentials, without JavaScript. */
async function managerPage() {
  const context = await browser.newContext({
    httpCredentials: { username: 'manager', password: PASSWORD },
    javaScriptEnabled: false,
    viewport: { width: 1100, height: 900 },
  });
  const page = await context.newPage();
  const problems = [];
  // Chromium logs every 4xx as "Failed to load resource"; those are expected.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return { context, page, problems };
}

/** Clicks `button` and returns the status of the form post it makes. */
async function submit(page, button) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    button.click(),
  ]);
  await page.waitForLoadState('load');
  return response.status();
}

describe('the managers page in Chromium', () => {
  before(async () => {
    mkdirSync(OUT, { recursive: true });
    workdir = mkdtempSync(join(tmpdir(), 'syncd-browser-'));
    database = join(workdir, 'syncd.sqlite3');
    cli(['migrate']);
    [ids.manager, token] = cli(['users', 'create', 'manager', '--name', 'Mona Manager', '--manager', '--password-stdin'], PASSWORD + '\n').split(' ');
    ids.alice = Number(cli(['users', 'create', 'alice', '--name', 'Alice Liddell']).split(' ')[0]);
    ids.bob = Number(cli(['users', 'create', 'bob', '--name', 'Bob <b>Builder</b>']).split(' ')[0]);
    ids.editors = Number(cli(['groups', 'create', 'Editors', '--description', 'They edit.']));
    ids.readers = Number(cli(['groups', 'create', 'Readers']));
    base = await startSyncd();
    attackerBase = `http://localhost:${await startAttacker()}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  after(async () => {
    await browser?.close();
    attacker?.close();
    syncd?.kill('SIGTERM');
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  test('signs in with Basic credentials and shows the page, styled, with no errors', async () => {
    const { context, page, problems } = await managerPage();
    const response = await page.goto(`${base}/user-group-memberships`);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.match(headers['content-security-policy'], /^default-src 'none'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(await page.title(), 'User group memberships · syncd');
    assert.equal(await page.locator('header p').innerText(), 'Signed in as manager.');
    assert.equal(await page.getByText('There are no memberships yet.').count(), 1);
    // The stylesheet is allowed by the policy's hash, so it applies.
    const color = await page.getByRole('button', { name: 'Add membership' })
      .evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.equal(color, 'rgb(31, 95, 191)');
    assert.deepEqual(problems, [], 'no console errors (a CSP violation would be one)');
    await context.close();
  });

  test('adds a membership with the form, sees it listed, is told about the duplicate', async () => {
    const { context, page, problems } = await managerPage();
    await page.goto(`${base}/user-group-memberships.html`);
    await page.getByLabel('User', { exact: true }).selectOption({ label: 'alice (Alice Liddell)' });
    await page.getByLabel('User group', { exact: true }).selectOption({ label: 'Editors' });
    assert.equal(await submit(page, page.getByRole('button', { name: 'Add membership' })), 303);
    const [id] = await membershipIds();
    assert.ok(id, 'the membership exists');
    assert.match(page.url(), new RegExp(`/user-group-memberships\\.html\\?start=1&end=50#membership-${id}$`));
    const row = page.locator(`#membership-${id}`);
    assert.deepEqual(await row.locator('td').allInnerTexts().then((t) => t.slice(0, 3)),
      [String(id), 'alice', 'Editors']);

    // The same pair again: the page says so in plain words, choices kept.
    await page.getByLabel('User', { exact: true }).selectOption({ label: 'alice (Alice Liddell)' });
    await page.getByLabel('User group', { exact: true }).selectOption({ label: 'Editors' });
    assert.equal(await submit(page, page.getByRole('button', { name: 'Add membership' })), 422);
    assert.equal(await page.getByRole('alert').locator('li').innerText(),
      'Membership with this User and Group already exists.');
    assert.equal(await page.getByLabel('User', { exact: true }).inputValue(), String(ids.alice));
    assert.deepEqual(await membershipIds(), [id], 'still one membership');
    await page.screenshot({ path: join(OUT, 'duplicate-message.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('deletes a membership with its button', async () => {
    const { context, page } = await managerPage();
    await page.goto(`${base}/user-group-memberships.html`);
    const [id] = await membershipIds();
    const button = page.getByRole('button', { name: 'Delete alice from Editors' });
    assert.equal(await button.count(), 1);
    assert.equal(await submit(page, button), 303);
    assert.equal(await page.locator(`#membership-${id}`).count(), 0);
    assert.equal(await page.getByText('There are no memberships yet.').count(), 1);
    assert.deepEqual(await membershipIds(), []);
    await context.close();
  });

  test('creates a user group with the form', async () => {
    const { context, page } = await managerPage();
    await page.goto(`${base}/user-group-memberships.html`);
    await page.getByLabel('Name', { exact: true }).fill('Writers <and> "poets"');
    await page.getByLabel('Description', { exact: true }).fill('They write & rhyme.');
    assert.equal(await submit(page, page.getByRole('button', { name: 'Create user group' })), 303);
    assert.match(page.url(), /#user-groups$/);
    const cells = await page.locator('#user-groups tbody tr').last().locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(1), ['Writers <and> "poets"', 'They write & rhyme.', 'members', 'history']);
    const groups = await api('/user_groups.xml');
    assert.match(groups.body, /<name>Writers &lt;and&gt; &quot;poets&quot;<\/name>/);
    // The new group can be chosen at once; add bob to it and leave one
    // membership standing for the screenshot and the attack below.
    await page.getByLabel('User', { exact: true }).selectOption({ label: 'bob (Bob <b>Builder</b>)' });
    await page.getByLabel('User group', { exact: true }).selectOption({ label: 'Writers <and> "poets"' });
    assert.equal(await submit(page, page.getByRole('button', { name: 'Add membership' })), 303);
    [ids.standing] = await membershipIds();
    assert.equal(await page.locator(`#membership-${ids.standing} td`).nth(1).innerText(), 'bob');
    await page.screenshot({ path: join(OUT, 'memberships-page.png'), fullPage: true });
    await context.close();
  });

  test('a page on another site cannot post forms with the manager\'s credentials', async () => {
    // The attacker's page runs script; the manager's credentials are cached
    // and sent with every request to syncd, as a signed-in browser's are.
    const context = await browser.newContext({
      httpCredentials: { username: 'manager', password: PASSWORD, send: 'always' },
    });
    const page = await context.newPage();
    const before = await membershipIds();
    for (const attack of ['add.html', 'delete.html']) {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(base) && r.request().method() === 'POST'),
        page.goto(`${attackerBase}/${attack}`),
      ]);
      assert.equal(response.status(), 403, attack);
      assert.equal(response.request().headers().origin, attackerBase);
      await page.waitForURL((u) => u.href.startsWith(base));
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('alert').innerText(), /This form was refused: it was sent from another site/);
      if (attack === 'add.html') {
        await page.screenshot({ path: join(OUT, 'cross-site-refused.png'), fullPage: true });
      }
    }
    assert.deepEqual(await membershipIds(), before, 'nothing changed');
    // The same credentials do work from syncd's own page.
    const own = await page.goto(`${base}/user-group-memberships.html`);
    assert.equal(own.status(), 200);
    await context.close();
  });

  test('sets a group\'s members from pasted logins: preview the diff, then apply it', async () => {
    ids.carol = Number(cli(['users', 'create', 'carol', '--name', 'Carol Danvers']).split(' ')[0]);
    const { context, page, problems } = await managerPage();
    await page.goto(`${base}/user-group-memberships.html`);
    await page.locator('#user-groups tbody tr', { hasText: 'Readers' })
      .getByRole('link', { name: 'members' }).click();
    await page.waitForLoadState('load');
    assert.equal(await page.title(), 'Members of Readers · syncd');
    assert.equal(await page.getByText('This group has no members.').count(), 1);

    await page.getByLabel('Logins, one a line').fill('alice\ncarol\n');
    assert.equal(await submit(page, page.getByRole('button', { name: 'Preview' })), 200);
    assert.equal(await page.locator('#to-add').innerText(), 'To be added (2)');
    assert.equal(await page.locator('#to-remove').innerText(), 'To be removed (0)');
    assert.deepEqual(await page.locator('#preview tbody tr').allInnerTexts(),
      ['alice\tAlice Liddell', 'carol\tCarol Danvers']);
    assert.equal(await page.getByLabel('Logins, one a line').inputValue(), 'alice\ncarol');
    assert.equal((await api(`/user_groups/${ids.readers}/members.xml`)).body.includes('<user-id '), false,
      'a preview changes nothing');
    await page.screenshot({ path: join(OUT, 'members-preview.png'), fullPage: true });

    assert.equal(await submit(page, page.getByRole('button', { name: 'Apply these changes' })), 303);
    assert.match(page.url(), new RegExp(`/user_groups/${ids.readers}/members\\.html\\?added=2&removed=0&unchanged=0$`));
    assert.equal(await page.getByRole('status').innerText(), 'Applied: 2 added, 0 removed, 0 unchanged.');
    assert.deepEqual(await page.locator('#members tbody tr').allInnerTexts(),
      ['alice\tAlice Liddell', 'carol\tCarol Danvers']);
    const members = await api(`/user_groups/${ids.readers}/members.xml`);
    assert.deepEqual([...members.body.matchAll(/<user-id type="integer">(\d+)</g)].map((m) => Number(m[1])),
      [ids.alice, ids.carol]);
    const events = await api(`/membership-events.xml?user_group_id=${ids.readers}`);
    assert.deepEqual([...events.body.matchAll(/<via>([^<]+)</g)].map((m) => m[1]), ['sync', 'sync']);
    assert.equal(await page.locator('#latest-changes tbody tr').count(), 2);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('says when the group changed between preview and apply, and shows the new diff', async () => {
    ids.dave = Number(cli(['users', 'create', 'dave', '--name', 'Dave Lister']).split(' ')[0]);
    const { context, page, problems } = await managerPage();
    await page.goto(`${base}/user_groups/${ids.readers}/members.html`);
    await page.getByLabel('Logins, one a line').fill('bob\ncarol');
    assert.equal(await submit(page, page.getByRole('button', { name: 'Preview' })), 200);
    assert.deepEqual(await page.locator('#preview tbody tr').allInnerTexts(),
      ['bob\tBob <b>Builder</b>', 'alice\tAlice Liddell']);

    // Meanwhile a script adds dave to the group.
    const added = await api(`/user_groups/${ids.readers}/users/${ids.dave}.xml`, { method: 'PUT' });
    assert.equal(added.status, 201);

    assert.equal(await submit(page, page.getByRole('button', { name: 'Apply these changes' })), 412);
    assert.equal(await page.getByRole('alert').innerText(),
      'The members of this group changed since your preview; here is the new preview.');
    assert.equal(await page.locator('#to-add').innerText(), 'To be added (1)');
    assert.equal(await page.locator('#to-remove').innerText(), 'To be removed (2)');
    assert.deepEqual(await page.locator('#preview tbody tr').allInnerTexts(),
      ['bob\tBob <b>Builder</b>', 'alice\tAlice Liddell', 'dave\tDave Lister']);
    const unchanged = await api(`/user_groups/${ids.readers}/members.xml`);
    assert.deepEqual([...unchanged.body.matchAll(/<user-id type="integer">(\d+)</g)].map((m) => Number(m[1])),
      [ids.alice, ids.carol, ids.dave], 'nothing changed');
    await page.screenshot({ path: join(OUT, 'members-changed.png'), fullPage: true });

    assert.equal(await submit(page, page.getByRole('button', { name: 'Apply these changes' })), 303);
    assert.equal(await page.getByRole('status').innerText(), 'Applied: 1 added, 2 removed, 1 unchanged.');
    assert.deepEqual(await page.locator('#members tbody tr').allInnerTexts(),
      ['bob\tBob <b>Builder</b>', 'carol\tCarol Danvers']);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('previews and applies a CSV file', async () => {
    const { context, page, problems } = await managerPage();
    await page.goto(`${base}/user_groups/${ids.readers}/members.html`);
    await page.getByLabel('Or a CSV file').setInputFiles({
      name: 'readers.csv', mimeType: 'text/csv', buffer: Buffer.from('login\ndave\nnobody\n'),
    });
    assert.equal(await submit(page, page.getByRole('button', { name: 'Preview' })), 422);
    assert.equal(await page.getByRole('alert').locator('li').innerText(),
      'There is no user with the login "nobody".');
    await page.getByLabel('Or a CSV file').setInputFiles({
      name: 'readers.csv', mimeType: 'text/csv', buffer: Buffer.from(`login,user_id\ndave,\n,${ids.carol}\n`),
    });
    assert.equal(await submit(page, page.getByRole('button', { name: 'Preview' })), 200);
    assert.deepEqual(await page.locator('#preview tbody tr').allInnerTexts(),
      ['dave\tDave Lister', 'bob\tBob <b>Builder</b>']);
    assert.equal(await submit(page, page.getByRole('button', { name: 'Apply these changes' })), 303);
    assert.deepEqual(await page.locator('#members tbody tr').allInnerTexts(),
      ['carol\tCarol Danvers', 'dave\tDave Lister']);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
