import { describe, expect, it } from '@jest/globals';
import { clientAddressKey } from '../../src/ops/client-address.js';

describe('clientAddressKey (the failure limits count IPv6 per /64)', () => {
  it('keeps IPv4 addresses, and unwraps IPv4-mapped IPv6', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::FFFF:203.0.113.7')).toBe('203.0.113.7');
  });

  it('gives every address of one /64 the same key, whatever its spelling', () => {
    const key = clientAddressKey('2001:db8:0:1::1');
    for (const ip of ['2001:db8:0:1::2', '2001:0db8:0000:0001:ffff:ffff:ffff:ffff', '2001:DB8:0:1:a:b:c:d', '2001:db8::1:0:0:0:5', '2001:db8:0:1::9%eth0']) {
      expect(clientAddressKey(ip)).toBe(key);
    }
    expect(key).toBe('2001:db8:0:1::/64');
  });

  it('keeps different /64s apart', () => {
    expect(clientAddressKey('2001:db8:0:2::1')).not.toBe(clientAddressKey('2001:db8:0:1::1'));
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientAddressKey('::ffff:1:2')).toBe('0:0:0:0::/64');
  });

  it('leaves anything that is not an address as it is', () => {
    expect(clientAddressKey('not:an:address')).toBe('not:an:address');
  });
});
