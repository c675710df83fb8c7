import { z } from 'zod';

/** An outgoing connection's TLS (Authelia's `tls` block; lib/net/tls-client.ts builds the options, validate/tls-client.ts checks them). */
export const tlsClient = z.strictObject({
  server_name: z.string().optional(),
  skip_verify: z.boolean().default(false),
  minimum_version: z.enum(['TLS1.2', 'TLS1.3']).default('TLS1.2'),
  maximum_version: z.enum(['TLS1.2', 'TLS1.3']).optional(),
  /** A client certificate (PEM, the certificate first, then its intermediates), with `private_key`. */
  certificate_chain: z.string().optional(),
  /** The client certificate's private key (PEM). */
  private_key: z.string().optional(),
});
