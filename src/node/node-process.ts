import type { Server } from 'node:net';
import { startControlSocket } from '../mmp/control-socket.js';
import type { Interpreter } from '../mmp/interpreter.js';
import { nodeInterpreter } from '../mmp/node-commands.js';
import { XmppNode, type XmppNodeOptions } from './xmpp-node.js';

/**
 * A node with its doors open: the XMPP service (if enabled) and the MMP on
 * the local control socket. This is what `xmpp-cluster node` runs.
 */
export interface RunningNode {
  node: XmppNode;
  interpreter: Interpreter;
  close(): Promise<void>;
}

export async function startNode(options: XmppNodeOptions): Promise<RunningNode> {
  const node = await XmppNode.open(options);
  const interpreter = nodeInterpreter(node);
  let control: Server;
  try {
    control = await startControlSocket(node.layout.controlSocket, interpreter);
  } catch (err) {
    await node.close();
    throw err;
  }
  options.log.info({ module: 'node', event: 'node_started', name: node.name, dataDir: options.dataDir, service: node.serviceState().state }, 'node started');
  let closed = false;
  return {
    node,
    interpreter,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => control.close(() => resolve()));
      await node.close();
      options.log.info({ module: 'node', event: 'node_stopped', name: node.name }, 'node stopped');
    },
  };
}
