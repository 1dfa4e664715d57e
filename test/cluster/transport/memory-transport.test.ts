import { MemoryNetwork } from '../../../cluster/transport/memory-transport.js';
import { transportBehaviour } from './transport-behaviour.js';

transportBehaviour('MemoryTransport', () => {
  const network = new MemoryNetwork();
  let port = 1;
  return {
    create: (id, endpoint) => network.transport({ id, name: `node-${id}`, endpoint: endpoint ?? { host: `mem-${id}`, port: port++ } }),
    deadEndpoint: async () => ({ host: 'nowhere.invalid', port: 9 }),
  };
});
