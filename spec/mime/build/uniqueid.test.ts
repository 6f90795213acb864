import { hostname } from 'node:os';
import { uniqueID } from '../../../mime/build/uniqueid';
import { parseaddress } from '../../../mime/address';

const SHAPE = /^<(\d+)\.(\d+)\.(\d+)\.([0-9a-f]{16})@([^<>@\s]+)>$/;

describe('uniqueID', () => {
  it('has the shape <pid.unixseconds.counter.random@host>', () => {
    const before = Math.floor(Date.now() / 1000);
    const id = uniqueID();
    const match = SHAPE.exec(id);
    expect(match).not.toBeNull();
    const [, pid, seconds, , , host] = match!;
    expect(Number(pid)).toBe(process.pid);
    expect(Number(seconds)).toBeGreaterThanOrEqual(before);
    expect(Number(seconds)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(host).toMatch(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/);
    if (/^[A-Za-z0-9.-]+$/.test(hostname())) expect(host).toBe(hostname());
  });

  it('counts up with one counter for every id of the process', () => {
    const counters = [uniqueID(), uniqueID(), uniqueID()].map((id) => Number(SHAPE.exec(id)![3]));
    expect(counters[1]).toBe(counters[0] + 1);
    expect(counters[2]).toBe(counters[1] + 1);
  });

  it('never repeats, not even when a restarted process starts its counter again', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(uniqueID());
    expect(seen.size).toBe(2000);
    // Two fresh copies of the module stand for two runs of the same program in the same second.
    let first = '';
    let second = '';
    jest.isolateModules(() => {
      first = (require('../../../mime/build/uniqueid') as typeof import('../../../mime/build/uniqueid')).uniqueID();
    });
    jest.isolateModules(() => {
      second = (require('../../../mime/build/uniqueid') as typeof import('../../../mime/build/uniqueid')).uniqueID();
    });
    expect(SHAPE.exec(first)![3]).toBe('1');
    expect(SHAPE.exec(second)![3]).toBe('1');
    expect(first).not.toBe(second);
  });

  it('is a valid msg-id: it parses as one address without error', () => {
    const [info] = parseaddress(uniqueID());
    expect(info.error).toBe('');
    expect(info.domain).not.toBe('');
  });
});
