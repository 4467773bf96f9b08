// An independent relying party: panva's openid-client against the hub, over real HTTP.
// Usage: node rp.mjs ISSUER CLIENT_ID SECRET|- REDIRECT_URI POST_LOGOUT_URI
// Prints {"authorize": url}; reads the callback URL (one line) from standard input; then
// exchanges the code (ID token checked against jwks_uri, nonce, PKCE, iss), reads userinfo,
// refreshes, revokes, and prints {"result": {...}} with what it saw and the end-session URL.
import * as client from 'openid-client';
import * as readline from 'node:readline';

const [issuer, clientId, secret, redirectUri, postLogout] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const auth = secret === '-' ? client.None() : client.ClientSecretBasic(secret);
const config = await client.discovery(new URL(issuer), clientId, secret === '-' ? undefined : secret, auth,
  { execute: [client.allowInsecureRequests] });  // http only because the test hub listens on loopback

const verifier = client.randomPKCECodeVerifier();
const challenge = await client.calculatePKCECodeChallenge(verifier);
const nonce = client.randomNonce();
const state = client.randomState();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid profile email', code_challenge: challenge,
  code_challenge_method: 'S256', nonce, state,
});
out({ authorize: url.href });

const rl = readline.createInterface({ input: process.stdin });
const callback = await new Promise((resolve) => rl.once('line', resolve));
rl.close();

const result = {};
try {
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  const claims = tokens.claims();
  result.claims = claims;
  result.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (tokens.refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    result.refreshed_claims = refreshed.claims();
    result.rotated = refreshed.refresh_token !== tokens.refresh_token;
    result.userinfo_after_refresh = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
    try {
      await client.refreshTokenGrant(config, refreshed.refresh_token);
      result.refresh_after_revocation = 'accepted';
    } catch (err) {
      result.refresh_after_revocation = err.error || err.code || String(err);
    }
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token);
      result.reuse_of_rotated = 'accepted';
    } catch (err) {
      result.reuse_of_rotated = err.error || err.code || String(err);
    }
  }
  result.end_session = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: postLogout, state: 'bye',
  }).href;
} catch (err) {
  result.error = `${err.name}: ${err.message} ${err.code || ''} ${err.error || ''}`;
}
out({ result });
