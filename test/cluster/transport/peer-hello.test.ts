import { describe, expect, it } from 'vitest';
import { encodeHello, parseHello } from '../../../cluster/transport/peer-hello.js';

const base = { id: 'n1', name: 'cb1', endpoint: { host: '127.0.0.1', port: 5999 } };

describe('peer hello features', () => {
  it('come back as sent, and a hello without them has none', () => {
    expect(parseHello(encodeHello({ ...base, features: ['routing-batches'] }))).toEqual({ ...base, features: ['routing-batches'] });
    expect(parseHello(encodeHello(base))).toEqual(base);
    expect(JSON.parse(encodeHello(base).toString())).not.toHaveProperty('features');
  });

  it('keep names this release does not know: the layer that asks ignores them', () => {
    const hello = Buffer.from(JSON.stringify({ protocol: 1, ...base, features: ['routing-batches', 'from-the-future'] }));
    expect(parseHello(hello)).toEqual({ ...base, features: ['routing-batches', 'from-the-future'] });
  });

  it('refuse a hello whose features are not a list of names', () => {
    for (const features of ['routing-batches', [1], { a: 1 }, null]) {
      const hello = Buffer.from(JSON.stringify({ protocol: 1, ...base, features }));
      expect(parseHello(hello), JSON.stringify(features)).toBe('the hello has features that are not a list of names');
    }
  });
});
