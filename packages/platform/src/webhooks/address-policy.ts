import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

// SSRF: a webhook URL is chosen by a tenant, and the worker that POSTs to it sits inside our network. Unless
// WEBHOOK_ALLOW_PRIVATE is set (tests, local development), no request may reach a loopback, private, link-local
// (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast or reserved address. Registration refuses such
// literal hosts; every delivery checks the address DNS resolved to at connect time (so a name that later
// resolves to an internal address, DNS rebinding, is refused too). Redirects are not followed.

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) blocked.addSubnet(net, bits, 'ipv6');

/** Loopback, private, link-local, multicast or reserved: not a place for tenant-chosen requests. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPrivateAddress(mapped[1]);
  const family = isIP(address);
  if (!family) return false;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why this URL may not be a webhook endpoint, or null. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): { code: string; message: string } | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { code: 'invalid_webhook_url', message: `url ${JSON.stringify(raw.slice(0, 200))} is not an absolute URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { code: 'invalid_webhook_url', message: `url must use http or https, not ${url.protocol.replace(':', '')}` };
  if (url.username || url.password) return { code: 'invalid_webhook_url', message: 'url must not carry credentials (user:password@); authenticate the request by its webhook-signature' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)))
    return { code: 'webhook_url_not_public', message: `url host ${host} is a loopback or private address; webhooks go to public hosts only` };
  return null;
}

export class BlockedAddressError extends Error {
  readonly code = 'webhook_address_blocked';
  constructor(host: string, address: string) {
    super(`${host} resolved to ${address}, a loopback or private address; not delivered`);
    this.name = 'BlockedAddressError';
  }
}

/** A DNS lookup for http.request that refuses private addresses unless they are allowed. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as unknown as { address: string; family: number }[];
      const bad = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new BlockedAddressError(hostname, bad.address) as NodeJS.ErrnoException, '', 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
