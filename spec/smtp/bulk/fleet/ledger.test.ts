/**
 * The Redis ledger against a real redis-server: idempotent enqueue, changed
 * items refused before anything is stored, and the Lua guards that keep a
 * worker which lost its claim from sending or overwriting another's item.
 */
import { ChangedItemsError, checkDurability, DurabilityError, type Fleet, type FleetItem, LedgerWriteError, ListChangedError, openFleet, redactRedisUrl, RepeatedIdError } from '../../../../smtp/bulk/fleet';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { testCertificate } from '../../../support/certs';
import { freePort } from '../../../support/postfix';
import { describeWithRedis, startRedis, type TestRedis } from '../../../support/redis';

const TEMPLATE = { bytes: Buffer.from('From: news@x.test\r\nTo: {{recipient}}\r\nSubject: Hello {{name}}\r\n\r\nDear {{name}}.\r\n') };

function rows(count: number, change: (i: number) => string = () => ''): FleetItem[] {
  return Array.from({ length: count }, (_, i) => ({ id: `r${i}`, recipient: `u${i}@y.test`, values: { name: `User ${i}${change(i)}` } }));
}

describeWithRedis('fleet ledger in Redis', () => {
  let redis: TestRedis;
  let fleet: Fleet;

  beforeAll(async () => {
    redis = await startRedis();
    fleet = await openFleet(redis.url);
  });

  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  /** Makes a worker's lease key, as a live worker keeps it. */
  async function alive(worker: string, yes: boolean): Promise<void> {
    const client = fleet[Object.getOwnPropertySymbols(fleet)[0] as never] as unknown as { set: Function; del: Function };
    if (yes) await client.set(`tclmail:w:${worker}`, '1', 'PX', 60000);
    else await client.del(`tclmail:w:${worker}`);
  }

  test('enqueue stores the campaign once; a second enqueue adds nothing', async () => {
    const first = await fleet.enqueueCampaign({ campaign: 'once', sender: 'news@x.test', template: TEMPLATE, items: rows(250) });
    expect(first).toMatchObject({ total: 250, added: 250, known: 0, changed: 0, jobs: 3 });
    const second = await fleet.enqueueCampaign({ campaign: 'once', sender: 'news@x.test', template: TEMPLATE, items: rows(250) });
    expect(second).toMatchObject({ total: 250, added: 0, known: 250, jobs: 0, listDigest: first.listDigest });
    const status = await fleet.status('once');
    expect(status).toMatchObject({ campaign: 'once', total: 250, pending: 250, done: 0 });
    const record = await fleet.campaign('once');
    expect(record.template.equals(TEMPLATE.bytes)).toBe(true);
    expect(record.sender).toBe('news@x.test');
  });

  test('identical rows are one item, reported as duplicates', async () => {
    const list = [...rows(5), ...rows(2)];
    const result = await fleet.enqueueCampaign({ campaign: 'dups', sender: 'news@x.test', template: TEMPLATE, items: list });
    expect(result).toMatchObject({ total: 5, added: 5, duplicates: { count: 2, ids: ['r0', 'r1'] } });
    expect((await fleet.status('dups')).total).toBe(5);
  });

  test('two items under one id are refused before anything is stored, unless the first is kept on request', async () => {
    // r1 again with other values (a clash), r2 again as it was (a duplicate), spread over several store batches.
    const list = [...rows(250), { id: 'r1', recipient: 'other@y.test', values: { name: 'Other' } }, ...rows(3).slice(2)];
    const seen: Array<{ ordinal: number; id: string; kind: string }> = [];
    const attempt = fleet.enqueueCampaign({ campaign: 'clash', sender: 'news@x.test', template: TEMPLATE, items: list, batchSize: 40, onRepeat: ({ ordinal, id, kind }) => seen.push({ ordinal, id, kind }) });
    await expect(attempt).rejects.toBeInstanceOf(RepeatedIdError);
    await expect(attempt).rejects.toMatchObject({ code: 'EINVAL', count: 1, ids: ['r1'] });
    expect(seen).toEqual([{ ordinal: 251, id: 'r1', kind: 'clash' }, { ordinal: 252, id: 'r2', kind: 'duplicate' }]);
    await expect(fleet.status('clash')).rejects.toMatchObject({ code: 'ECAMPAIGN' });

    const kept = await fleet.enqueueCampaign({ campaign: 'clash', sender: 'news@x.test', template: TEMPLATE, items: list, batchSize: 40, clashes: 'skip' });
    expect(kept).toMatchObject({ total: 250, added: 250, duplicates: { count: 1, ids: ['r2'] }, clashes: { count: 1, ids: ['r1'] } });
    expect(await fleet.item('clash', 'r1')).toMatchObject({ recipient: 'u1@y.test', state: 'pending' });
    expect((await fleet.status('clash')).total).toBe(250);
  });

  test('a list that changes between its two reads is reported, and what was stored is kept', async () => {
    let reads = 0;
    // The second read has one row more: it was never checked, so it is not stored.
    const items = (): FleetItem[] => (reads++ === 0 ? rows(10) : rows(11));
    const attempt = fleet.enqueueCampaign({ campaign: 'moving', sender: 'news@x.test', template: TEMPLATE, items });
    await expect(attempt).rejects.toBeInstanceOf(ListChangedError);
    await expect(attempt).rejects.toMatchObject({ code: 'ECAMPAIGN', message: expect.stringContaining('the list changed while it was being enqueued') });
    expect((await fleet.status('moving')).total).toBe(10);
    expect(await fleet.item('moving', 'r10')).toBeUndefined();
    // Enqueued again, whole: the missing row is added, nothing twice.
    expect(await fleet.enqueueCampaign({ campaign: 'moving', sender: 'news@x.test', template: TEMPLATE, items: rows(11) })).toMatchObject({ added: 1, known: 10 });
  });

  test('a changed item is refused before anything is stored, naming the ids and the count', async () => {
    await fleet.enqueueCampaign({ campaign: 'changed', sender: 'news@x.test', template: TEMPLATE, items: rows(30) });
    const before = (await fleet.item('changed', 'r3'))!.digest;
    const edited = rows(40, (i) => (i % 10 === 3 ? ' (edited)' : ''));
    const attempt = fleet.enqueueCampaign({ campaign: 'changed', sender: 'news@x.test', template: TEMPLATE, items: edited });
    await expect(attempt).rejects.toBeInstanceOf(ChangedItemsError);
    await expect(attempt).rejects.toMatchObject({ code: 'ECHANGED', count: 3, ids: ['r3', 'r13', 'r23'] });
    // Nothing stored: not the 10 new rows, not the new values.
    expect((await fleet.status('changed')).total).toBe(30);
    expect((await fleet.item('changed', 'r3'))!.digest).toBe(before);
    const accepted = await fleet.enqueueCampaign({ campaign: 'changed', sender: 'news@x.test', template: TEMPLATE, items: edited, acceptChanged: true });
    expect(accepted).toMatchObject({ total: 40, added: 10 });
    expect((await fleet.item('changed', 'r3'))!.digest).not.toBe(before);
    // A changed template changes every item.
    const other = { bytes: Buffer.from(TEMPLATE.bytes.toString('utf8').replace('Hello', 'Hi')) };
    await expect(fleet.enqueueCampaign({ campaign: 'changed', sender: 'news@x.test', template: other, items: edited })).rejects.toMatchObject({ count: 40 });
  });

  test('a row with several addresses is refused before anything is stored', async () => {
    const list: FleetItem[] = [...rows(3), { recipient: 'ann@y.test, evil@z.test', values: {} }];
    await expect(fleet.enqueueCampaign({ campaign: 'multi', sender: 'news@x.test', template: TEMPLATE, items: list })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fleet.status('multi')).rejects.toMatchObject({ code: 'ECAMPAIGN' });
    for (const recipient of ['G: a@y.test, b@y.test;', 'Ann <ann@y.test>', 'ann@y.test (Ann)', 'no-domain', 'ann@y.test\r\nBcc: x@z.test', '']) {
      await expect(fleet.enqueueCampaign({ campaign: 'multi', sender: 'news@x.test', template: TEMPLATE, items: [{ recipient, values: {} }] })).rejects.toMatchObject({ code: 'EINVAL' });
    }
    const marked: FleetItem[] = [...rows(3), { recipient: 'ann@y.test, evil@z.test', values: {}, invalid: 'several addresses' }];
    const result = await fleet.enqueueCampaign({ campaign: 'multi', sender: 'news@x.test', template: TEMPLATE, items: marked });
    expect(result).toMatchObject({ total: 4, invalid: 1, added: 4 });
    expect(await fleet.status('multi')).toMatchObject({ pending: 3, invalid: 1, done: 1 });
  });

  test('a worker that lost its claim can neither send the item nor overwrite the outcome', async () => {
    await fleet.enqueueCampaign({ campaign: 'guards', sender: 'news@x.test', template: TEMPLATE, items: rows(4) });
    await alive('wa', true);
    await alive('wb', true);
    const a = fleet.ledger('guards', 'wa:1');
    const b = fleet.ledger('guards', 'wb:1');
    const claimedByA = await a.claim(['r0', 'r1', 'r2']);
    expect(claimedByA.map((c) => c.status)).toEqual(['claimed', 'claimed', 'claimed']);
    expect(claimedByA[0].item).toMatchObject({ id: 'r0', recipient: 'u0@y.test', values: { name: 'User 0' }, attempts: 0 });
    // While A lives, B finds A's items held and may not write them.
    expect((await b.claim(['r0', 'r1', 'r3'])).map((c) => c.status)).toEqual(['held', 'held', 'claimed']);
    await expect(b.markSending('r0')).rejects.toBeInstanceOf(LedgerWriteError);
    await expect(b.markOutcome('r1', { state: 'sent' })).rejects.toMatchObject({ code: 'ELEDGER', reply: 'not-holder', reason: 'claimed' });
    await a.markSending('r0');
    await a.markSending('r0'); // sent again after a reconnection: same answer, no change
    // A is paused past its lease: its lease key runs out.
    await alive('wa', false);
    const takeover = await b.claim(['r0', 'r1']);
    // r0 was sending: it becomes uncertain, never sent again. r1 was only claimed: B takes it.
    expect(takeover.map((c) => c.status)).toEqual(['uncertain', 'claimed']);
    // A comes back: it cannot send r1 (B holds it) nor write its outcome.
    await expect(a.markSending('r1')).rejects.toMatchObject({ reply: 'not-holder', reason: 'claimed' });
    await expect(a.markOutcome('r1', { state: 'failed', diagnostic: 'late' })).rejects.toMatchObject({ reply: 'not-holder', reason: 'claimed' });
    // A may settle r0, the item it did send: it knows its final reply.
    await a.markOutcome('r0', { state: 'sent', code: 250 });
    await b.markSending('r1');
    await b.markOutcome('r1', { state: 'sent', code: 250 });
    // A final item is not changed by anyone, its holder included.
    await expect(b.markOutcome('r1', { state: 'failed' })).rejects.toMatchObject({ reply: 'state:sent', reason: 'final' });
    await expect(b.claim(['r1'])).resolves.toEqual([{ id: 'r1', status: 'final' }]);
    expect(await fleet.item('guards', 'r0')).toMatchObject({ state: 'sent', code: 250, attempts: 1 });
    expect(await fleet.status('guards')).toMatchObject({ total: 4, sent: 2, pending: 2, sending: 0, uncertain: 0, done: 2 });
  });

  test('a dead worker leaves sending items uncertain; they are resent only when asked, and listed', async () => {
    await fleet.enqueueCampaign({ campaign: 'lapse', sender: 'news@x.test', template: TEMPLATE, items: rows(3) });
    await alive('wc', true);
    const c = fleet.ledger('lapse', 'wc:1');
    await c.claim(['r0', 'r1', 'r2']);
    await c.markSending('r0');
    await c.markSending('r2');
    await alive('wc', false);
    await alive('wd', true);
    const d = fleet.ledger('lapse', 'wd:1');
    expect((await d.claim(['r0', 'r1', 'r2'])).map((x) => x.status)).toEqual(['uncertain', 'claimed', 'uncertain']);
    expect(await fleet.status('lapse')).toMatchObject({ uncertain: 2, pending: 1, sending: 0 });
    expect((await d.claim(['r0'])).map((x) => x.status)).toEqual(['final']);
    const resent = await fleet.resendUncertain('lapse');
    expect(resent).toEqual(['r0', 'r2']);
    expect(await fleet.status('lapse')).toMatchObject({ uncertain: 0, pending: 3 });
    // The old holder cannot settle a resent item any more.
    await expect(c.markOutcome('r0', { state: 'sent' })).rejects.toMatchObject({ reply: 'not-holder', reason: 'claimed' });
  });

  test('a deferred item comes back when due, to whichever worker asks', async () => {
    await fleet.enqueueCampaign({ campaign: 'later', sender: 'news@x.test', template: TEMPLATE, items: rows(2) });
    await alive('we', true);
    await alive('wf', true);
    const e = fleet.ledger('later', 'we:1');
    await e.claim(['r0', 'r1']);
    await e.markSending('r0');
    await e.markDeferred('r0', { code: 451, diagnostic: 'try later', dueMs: Date.now() + 300 });
    await e.markDeferred('r1', { code: 421, diagnostic: 'busy', dueMs: Date.now() + 60000 });
    expect(await fleet.status('later')).toMatchObject({ deferred: 2, pending: 0 });
    const f = fleet.ledger('later', 'wf:1');
    expect((await f.claim(['r0', 'r1'])).map((x) => x.status)).toEqual(['later', 'later']);
    expect(await f.claimDue(10, 5000)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const due = await f.claimDue(10, 5000);
    expect(due).toEqual([{ id: 'r0', recipient: 'u0@y.test', values: { name: 'User 0' }, attempts: 1 }]);
    // Reserved for F: E's due poll finds nothing.
    expect(await e.claimDue(10, 5000)).toEqual([]);
    await f.markSending('r0');
    await f.markOutcome('r0', { state: 'sent', code: 250 });
    expect(await fleet.item('later', 'r0')).toMatchObject({ state: 'sent', attempts: 2 });
    expect(await fleet.item('later', 'r1')).toMatchObject({ state: 'deferred', code: 421, diagnostic: 'busy' });
  });

  test('counts always add up to the total', async () => {
    for (const name of ['once', 'dups', 'changed', 'multi', 'guards', 'lapse', 'later']) {
      const status = await fleet.status(name);
      const sum = status.pending + status.sending + status.deferred + status.sent + status.refused + status.failed + status.uncertain + status.invalid;
      expect(sum).toBe(status.total);
      let listed = 0;
      for await (const item of fleet.items(name)) listed += item.state === 'pending' ? 1 : 0;
      expect(listed).toBe(status.pending);
    }
  });

  test('bytes per item in Redis', async () => {
    const client = fleet[Object.getOwnPropertySymbols(fleet)[0] as never] as unknown as { call: (...a: string[]) => Promise<number>; lrange: (k: string, a: number, b: number) => Promise<string[]> };
    const info = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(String(await client.call('INFO', 'memory')))![1]);
    const before = await info();
    const items = Array.from({ length: 1000 }, (_, i) => ({ recipient: `someone.${i}@example.net`, values: { name: `Person number ${i}`, email: `someone.${i}@example.net`, plan: 'basic' } }));
    await fleet.enqueueCampaign({ campaign: 'size', sender: 'news@x.test', template: TEMPLATE, items });
    const grown = ((await info()) - before) / items.length;
    const ids = await client.lrange('tclmail:c:size:order', 0, -1);
    let total = 0;
    for (const id of ids) total += Number(await client.call('MEMORY', 'USAGE', `tclmail:c:size:i:${id}`, 'SAMPLES', '0'));
    const order = Number(await client.call('MEMORY', 'USAGE', 'tclmail:c:size:order', 'SAMPLES', '0'));
    const values = Number(await client.call('MEMORY', 'USAGE', 'tclmail:c:size:v', 'SAMPLES', '0'));
    const perItem = (total + order + values) / ids.length;
     
    console.log(`fleet: ${perItem.toFixed(0)} bytes per pending item in Redis (item hash ${(total / ids.length).toFixed(0)}, values ${(values / ids.length).toFixed(0)}, order list ${(order / ids.length).toFixed(0)}; used_memory grew ${grown.toFixed(0)} per item; values of 3 fields, 70 bytes of JSON)`);
    expect(perItem).toBeGreaterThan(100);
    expect(perItem).toBeLessThan(600);
  });

  test('the durability check reads CONFIG and refuses a Redis that may lose writes', async () => {
    await expect(checkDurability(redis.url)).resolves.toMatchObject({ durable: true, appendonly: true, appendfsync: 'always', source: 'config' });
    const loose = await startRedis({ extraArgs: ['--appendfsync', 'everysec'] });
    try {
      const refused = checkDurability(loose.url);
      await expect(refused).rejects.toBeInstanceOf(DurabilityError);
      await expect(refused).rejects.toThrow(/appendfsync everysec.*--allow-unsafe-redis/);
      await expect(checkDurability(loose.url, { allowUnsafe: true })).resolves.toMatchObject({ durable: false, appendfsync: 'everysec' });
    } finally {
      await loose.stop();
    }
  });

  test('where CONFIG is blocked, INFO persistence is read, and an unverifiable fsync policy is refused', async () => {
    const managed = await startRedis({ extraArgs: ['--rename-command', 'CONFIG', ''] });
    try {
      await expect(checkDurability(managed.url)).rejects.toThrow(/appendfsync cannot be read \(CONFIG is blocked\)/);
      await expect(checkDurability(managed.url, { allowUnsafe: true })).resolves.toMatchObject({ durable: false, appendonly: true, appendfsync: 'unknown', source: 'info' });
    } finally {
      await managed.stop();
    }
  });

  test('a purged campaign leaves no key behind', async () => {
    await fleet.enqueueCampaign({ campaign: 'gone', sender: 'news@x.test', template: TEMPLATE, items: rows(120) });
    const client = fleet[Object.getOwnPropertySymbols(fleet)[0] as never] as unknown as { keys: (p: string) => Promise<string[]> };
    expect((await client.keys('tclmail:c:gone:*')).length).toBeGreaterThan(120);
    expect(await fleet.campaigns()).toContain('gone');
    expect(await fleet.purge('gone')).toBeGreaterThan(120);
    expect(await client.keys('tclmail:c:gone:*')).toEqual([]);
    expect(await fleet.campaigns()).not.toContain('gone');
    await expect(fleet.status('gone')).rejects.toMatchObject({ code: 'ECAMPAIGN' });
  });

  test('rediss:// with a password: TLS to Redis, verified against the CA', async () => {
    const cert = await testCertificate(['127.0.0.1']);
    const tlsPort = await freePort();
    const scratch = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tclmail-redis-tls-'));
    for (const [name, text] of Object.entries({ 'key.pem': cert.key, 'cert.pem': cert.cert, 'ca.pem': cert.ca })) fs.writeFileSync(path.join(scratch, name), text);
    const secure = await startRedis({
      extraArgs: [
        '--tls-port', String(tlsPort), '--tls-cert-file', path.join(scratch, 'cert.pem'), '--tls-key-file', path.join(scratch, 'key.pem'),
        '--tls-ca-cert-file', path.join(scratch, 'ca.pem'), '--tls-auth-clients', 'no', '--requirepass', 's3cret pass',
      ],
    });
    try {
      const url = `rediss://:${encodeURIComponent('s3cret pass')}@127.0.0.1:${tlsPort}`;
      await expect(checkDurability({ url, tls: { ca: cert.ca } })).resolves.toMatchObject({ durable: true });
      const overTls = await openFleet({ url, tls: { ca: cert.ca } });
      try {
        await overTls.enqueueCampaign({ campaign: 'tls', sender: 'news@x.test', template: TEMPLATE, items: rows(3) });
        expect(await overTls.status('tls')).toMatchObject({ total: 3, pending: 3 });
      } finally {
        await overTls.close();
      }
    } finally {
      await secure.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('a Redis URL never shows its password', () => {
    expect(redactRedisUrl('rediss://user:s3cret@redis.example:6380/2')).toBe('rediss://user:***@redis.example:6380/2');
    expect(redactRedisUrl('redis://:s3cret@127.0.0.1:6379')).not.toContain('s3cret');
  });
});
