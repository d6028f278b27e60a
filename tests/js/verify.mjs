// verify.mjs ISSUER TOKEN [AUDIENCE]: verify an access token with Node's
// jose, as a resource server configured with nothing but the issuer URL:
// the discovery document gives jwks_uri, createRemoteJWKSet fetches the
// keys, jwtVerify checks signature, RS256, typ at+jwt, iss (and aud).
// Prints the verified claims as JSON and exits 0; on any refusal prints
// the reason on stderr and exits 1.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuer, token, audience] = process.argv.slice(2);
if (!issuer || !token) {
	console.error('usage: verify.mjs ISSUER TOKEN [AUDIENCE]');
	process.exit(2);
}

try {
	const res = await fetch(`${issuer}/.well-known/openid-configuration`);
	if (res.status !== 200)
		throw new Error(`discovery answered ${res.status}`);
	const meta = await res.json();
	if (meta.issuer !== issuer)
		throw new Error(`discovery names issuer ${meta.issuer}, not ${issuer}`);
	const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
	const { payload, protectedHeader } = await jwtVerify(token, jwks, {
		issuer,
		audience: audience || undefined,
		typ: 'at+jwt',
		algorithms: ['RS256'],
		requiredClaims: ['sub', 'exp', 'iat'],
	});
	console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (e) {
	console.error(`jose: ${e.code || e.name}: ${e.message}`);
	process.exit(1);
}
