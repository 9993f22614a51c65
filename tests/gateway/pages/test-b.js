/* SPDX-License-Identifier: MIT */
/*
 * test-b.js - page b (http://b.test:PORT, framed by page a) of
 * tests/cli/gateway_browser.sh: posts one value to the native window,
 * checks the catalogue page a posts and that a message whose targetOrigin
 * is a's own origin did not arrive, answers on a transferred port (with a
 * transferred ArrayBuffer) and through e.source.
 */
'use strict';

Harness.run('b', {name: 'b'}, async (h, w) => {
	const catalogue = await loadCatalogue();

	await h.check('window origin is the page origin', w.origin === location.origin, w.origin);
	await h.check('window URL defaults to the page path', w.url === location.origin + '/b.html', w.url);
	await h.say('ready b');
	await w.postMessage('native', {from: 'b'}, 'http://native.test');

	for (const v of catalogue) {
		const e = await h.next('the value ' + v.name + ' from a');
		await h.check('a -> b: ' + v.name, structuredEqual(e.data, v.make()));
		await h.check('a -> b: ' + v.name + ': origin and source', e.origin === ORIGIN_A && e.source.name === 'a',
			e.origin);
	}
	const after = await h.next('after-drop');
	await h.check('a message with a mismatched targetOrigin is dropped', after.data === 'after-drop',
		JSON.stringify(after.data));

	const pm = await h.next('the port');
	await h.check('the transferred port is in e.ports and in the data', pm.ports.length === 1 &&
		pm.data.port === pm.ports[0] && pm.data.note === 'a port for b');
	const port = pm.ports[0];
	const buf = new Uint8Array([42, 43]).buffer;
	await port.postMessage({n: 1, buf}, [buf]);
	await h.check('a transferred ArrayBuffer is detached', buf.byteLength === 0, 'byteLength ' + buf.byteLength);

	const ping = await h.next('ping');
	await ping.source.postMessage('pong', ping.origin);
});
