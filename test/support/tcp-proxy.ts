/**
 * A loopback TCP proxy a test can cut: "etcd made unreachable for one agent only". While cut,
 * it blackholes — existing connections stop forwarding and new ones are accepted but never
 * answered — which is what a network partition looks like to the agent (timeouts, not refusals).
 */
import net from 'node:net';

export interface CuttableProxy {
  port: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(target: { host: string; port: number }, host = '127.0.0.1'): Promise<CuttableProxy> {
  let isCut = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (isCut) {
      client.pause(); // accepted, never answered
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk) => {
      if (!isCut) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!isCut) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut: () => {
      isCut = true;
    },
    heal: () => {
      isCut = false;
      for (const socket of sockets) socket.destroy(); // stale half-dead streams: force reconnects
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A sandbox's `nodeEtcdHosts` hook giving each agent its own cuttable proxy to the first etcd
 * endpoint ("etcd unreachable for this node only"), recorded in `proxies` by node name.
 */
export function proxiedEtcdHosts(proxies: Map<string, CuttableProxy>): (endpoints: string[], node: string) => Promise<string[]> {
  return async (endpoints, node) => {
    const [host, port] = (endpoints[0] ?? '').split(':');
    const proxy = await startProxy({ host: host ?? '127.0.0.1', port: Number(port) });
    proxies.set(node, proxy);
    return [`127.0.0.1:${proxy.port}`];
  };
}
