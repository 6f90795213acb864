/**
 * End to end: a campaign through a real Postfix that accepts every RCPT and
 * bounces afterwards (an unknown user, a full mailbox), the bounces routed to
 * `tclmail serve --bounces` as the inbound host of the VERP address, which
 * records them on the journal's items and keeps the suppression list.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureBuilt, lines, run, start, stop } from '../cli/helpers';
import { describeWithPostfix, freePort, startPostfix } from '../support/postfix';
import type { PostfixServer } from '../support/postfix';
import { FileLedger } from '../../smtp/bulk/journal';

jest.setTimeout(120_000);

describeWithPostfix('bounces end to end through Postfix', () => {
  let dir: string;
  let pf: PostfixServer | undefined;
  let capture: ChildProcess | undefined;

  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tclmail-bounces-e2e-'));
  });
  afterEach(async () => {
    if (capture) await stop(capture);
    capture = undefined;
    await pf?.stop();
    pf = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the unknown user and the full mailbox as bounced, keeps alice sent, suppresses the hard one', async () => {
    const journal = join(dir, 'run.jsonl');
    const suppress = join(dir, 'suppress.csv');
    const port = await freePort();
    capture = start(['serve', '--port', String(port), '--dir', join(dir, 'inbound'), '--bounces', '--journal', journal, '--suppress', suppress, '--verp', 'bounces+{id}@bounces.test']);
    const out = lines(capture);
    await out.waitFor(/^listening on/);
    pf = await startPostfix({
      acceptUnknown: true,
      transports: { 'full@tclmail.test': 'error:5.2.2 mailbox full', 'bounces.test': `smtp:[127.0.0.1]:${port}` },
    });
    const template = join(dir, 'notice.json');
    writeFileSync(template, JSON.stringify({ from: 'news@bounces.test', subject: 'Notice for {{name}}', text: 'Hello {{name}}.\n' }));
    const list = join(dir, 'list.csv');
    writeFileSync(list, 'id,email,name\nghost,ghost@tclmail.test,Ghost\nfull,full@tclmail.test,Full\nalice,alice@tclmail.test,Alice\n');
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, pf.ca);

    const sent = await run(['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(pf.port), '--ca', ca, '--journal', journal, '--verp', 'bounces+{id}@bounces.test', '--progress', 'none']);
    expect(sent.stderr).not.toMatch(/error/i);
    expect(sent.status).toBe(0);

    await out.waitFor(/^bounce\t.*\tghost\t.*5\.1\.1/, 60_000);
    await out.waitFor(/^bounce\t.*\tfull\t.*5\.2\.2/, 60_000);
    // Alice's copy arrives; nothing comes back for her.
    await pf.waitForDelivery('alice', 1);

    const ledger = await FileLedger.openReadOnly(journal);
    try {
      const ghost = ledger.lookupSync('ghost')!;
      expect(ghost.state).toBe('bounced');
      expect(ghost.bounce).toMatchObject({ status: '5.1.1', hard: true, reason: 'userunknown' });
      const full = ledger.lookupSync('full')!;
      expect(full.state).toBe('bounced');
      expect(full.bounce).toMatchObject({ status: '5.2.2', hard: false });
      expect(ledger.lookupSync('alice')!.state).toBe('sent');
      const counts = await ledger.counts();
      expect(counts).toMatchObject({ total: 3, sent: 1, bounced: 2 });
    } finally {
      await ledger.close();
    }
    const suppressed = readFileSync(suppress, 'utf8');
    expect(suppressed).toMatch(/^ghost@tclmail\.test,/m);
    expect(suppressed).not.toMatch(/full@tclmail\.test/);

    // Postfix offers DSN, so each item's id went as ENVID and its bounce quotes it.
    const inbound = join(dir, 'inbound', 'new');
    const stored = readdirSync(inbound).map((name) => readFileSync(join(inbound, name), 'latin1'));
    expect(stored.some((text) => /^Original-Envelope-Id: ghost\r?$/im.test(text))).toBe(true);
    expect(stored.some((text) => /^Original-Envelope-Id: full\r?$/im.test(text))).toBe(true);

    // bulk --status shows the bounced items too.
    const status = await run(['bulk', '--status', 'run', '--journal', journal, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ sent: 1, bounced: 2, total: 3 });
  });
});
