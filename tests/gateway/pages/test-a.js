/* SPDX-License-Identifier: MIT */
/*
 * test-a.js - page a (http://a.test:PORT, the top page) of
 * tests/cli/gateway_browser.sh.  In order:
 *  1. its window's origin and URL; every catalogue value through
 *     crosspost.encode/decode in the page;
 *  2. frames page b and two pages the gateway refuses (another origin, a
 *     wrong token), which answer with the browser's own postMessage;
 *  3. says "ready a"; posts a message the native window must not get
 *     (targetOrigin mismatch), then every catalogue value to it;
 *  4. checks the catalogue the script posts from a native window, and that
 *     a message with a mismatched targetOrigin was dropped;
 *  5. with page b: the catalogue, a targetOrigin drop, a MessageChannel
 *     port transferred and used, e.source.postMessage, and the errors
 *     postMessage throws or rejects with.
 */
'use strict';

Harness.run('a', {name: 'a', path: '/a'}, async (h, w) => {
	const catalogue = await loadCatalogue();

	await h.check('window origin is the page origin', w.origin === location.origin, w.origin);
	await h.check('window URL is the origin + path', w.url === location.origin + '/a', w.url);
	for (const v of catalogue)
		await h.check('in-page round trip of ' + v.name,
			structuredEqual(crosspost.decode(crosspost.encode(v.make())), v.make()));

	const custom = new Error('m');
	custom.name = 'Custom';
	await h.check('an Error of another name arrives as Error, as structured clone does',
		crosspost.decode(crosspost.encode(custom)).name === 'Error');

	const refusals = new Map();
	const refused = new Promise(resolve => {
		window.addEventListener('message', e => {
			refusals.set(e.origin, e.data);
			if (refusals.size === 2)
				resolve();
		});
	});
	for (const src of [`http://b.test:${PORT}/b.html?token=${TOKEN}`,
		`http://c.test:${PORT}/refused.html?token=${TOKEN}`,
		`http://b.test:${PORT}/refused.html?token=wrong`]) {
		const frame = document.createElement('iframe');
		frame.src = src;
		document.body.appendChild(frame);
	}
	await timeout(refused, 'the refused pages');
	const other = refusals.get(`http://c.test:${PORT}`) || {}, token = refusals.get(ORIGIN_B) || {};
	await h.check('a page of an origin not allowed gets SecurityError', other.error === 'SecurityError',
		JSON.stringify(other));
	await h.check('a page with a wrong token gets SecurityError', token.error === 'SecurityError' &&
		/token/.test(token.message), JSON.stringify(token));

	await h.say('ready a');
	await w.postMessage('native', 'must-not-reach-native', 'http://elsewhere.test');
	for (const v of catalogue)
		await w.postMessage('native', v.make(), 'http://native.test');

	for (const v of catalogue) {
		const e = await h.next('the native value ' + v.name);
		await h.check('native -> a: ' + v.name, structuredEqual(e.data, v.make()));
		await h.check('native -> a: ' + v.name + ': origin and source', e.origin === 'http://native.test' &&
			e.source && e.source.name === 'nat', e.origin + ' ' + JSON.stringify(e.source));
	}
	const end = await h.next('the end of the native messages');
	await h.check('a native message with a mismatched targetOrigin is dropped', end.data === 'end-of-native',
		JSON.stringify(end.data));

	const b = await w.lookup('b', {wait: 10000});
	await h.check('lookup finds b with its origin', b.origin === ORIGIN_B && b.name === 'b', b.origin);
	for (const v of catalogue)
		await w.postMessage(b, v.make(), b.origin);
	await w.postMessage(b, 'dropped-by-b', location.origin);
	await w.postMessage('b', 'after-drop', {targetOrigin: b.origin});

	const channel = new crosspost.MessageChannel();
	const viaPort = new Promise(resolve => { channel.port1.onmessage = resolve; });
	await w.postMessage(b, {port: channel.port2, note: 'a port for b'}, b.origin, [channel.port2]);
	await h.throws('a transferred port cannot be transferred again', 'DataCloneError',
		() => w.postMessage(b, 1, '*', [channel.port2]));
	const pe = await timeout(viaPort, 'a message on port1');
	await h.check('b answers on the transferred port', pe.data.n === 1 && pe.origin === '' && pe.source === null,
		JSON.stringify({n: pe.data.n, origin: pe.origin}));
	await h.check('an ArrayBuffer transferred through the port arrives',
		pe.data.buf instanceof ArrayBuffer && new Uint8Array(pe.data.buf)[0] === 42);

	await w.postMessage(b, 'ping', b.origin);
	const pong = await h.next('pong');
	await h.check('b answers through e.source', pong.data === 'pong' && pong.origin === ORIGIN_B &&
		pong.source.id === b.id && pong.source.name === 'b', JSON.stringify({o: pong.origin, s: pong.source}));

	await h.throws('an unparsable targetOrigin throws SyntaxError', 'SyntaxError',
		() => w.postMessage(b, 1, 'not a url'));
	await h.throws('a function throws DataCloneError', 'DataCloneError', () => w.postMessage(b, () => 1, '*'));
	await h.throws('a port in the data but not in transfer throws DataCloneError', 'DataCloneError',
		() => w.postMessage(b, {p: channel.port1}, '*'));
	await h.throws('a name no window has rejects with NotFoundError', 'NotFoundError',
		() => w.postMessage('nobody-has-this-name', 1, '*'));
	await h.throws('lookup of a name no window has rejects with NotFoundError', 'NotFoundError',
		() => w.lookup('nobody-has-this-name'));
});
