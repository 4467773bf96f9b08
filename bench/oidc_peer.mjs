// The peer of bench_oidc.py: panva's oidc-provider, configured like the hub's bench client.
// Run by the bench with NODE_PATH pointing at a temporary npm install (never a project dependency).
// Usage: node oidc_peer.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
    grant_types: ['authorization_code'], response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256',
  }],
  pkce: { required: () => true },                // S256 only is the library's default method list
  scopes: ['openid', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'given_name', 'family_name'],
            email: ['email', 'email_verified'] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  features: { devInteractions: { enabled: true }, userinfo: { enabled: true } },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: 'Ann Example', given_name: 'Ann', family_name: 'Example',
                 preferred_username: 'ann', email: 'ann@example.com', email_verified: true };
      },
    };
  },
});
provider.listen(Number(port), '127.0.0.1', () => process.stdout.write(`ready ${issuer}\n`));
