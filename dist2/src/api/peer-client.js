export const httpPeerClient = {
    async status(apiUrl, timeoutMs) {
        try {
            const response = await fetch(apiUrl, { signal: AbortSignal.timeout(timeoutMs) });
            const body = (await response.json());
            return body !== null && typeof body === 'object' && !Array.isArray(body) ? body : null;
        }
        catch {
            return null;
        }
    },
    /** Members share the REST API credentials (Patroni sends its own restapi.authentication). */
    async postFailsafe(apiUrl, body, auth, timeoutMs) {
        const headers = { 'content-type': 'application/json' };
        if (auth !== undefined)
            headers['authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
        try {
            const response = await fetch(new URL('/failsafe', apiUrl), {
                method: 'POST',
                body: JSON.stringify(body),
                headers,
                signal: AbortSignal.timeout(timeoutMs),
            });
            await response.text();
            return response.status;
        }
        catch {
            return null;
        }
    },
};
//# sourceMappingURL=peer-client.js.map