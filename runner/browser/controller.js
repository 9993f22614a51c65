/* SPDX-License-Identifier: MIT */
/*
 * controller.js - the scenario runner's controller page in headless
 * Chromium (`crosspost run --browser chromium`).  One controller page per
 * scenario file; each of the file's top-level windows is an iframe of it,
 * at the window's URL.  The browser host (runner/browser_host.c) hands it
 * the runner's commands for each window (__cpc.command), the agents'
 * hellos and events (__cpc.fromFrame) and frames going away
 * (__cpc.frameGone); it answers through the binding __cpHost: a line for a
 * window's link ({op:"send"}), or a command for the agent in a frame
 * ({op:"eval"}, answered by __cpc.answer).  It keeps what the runner's
 * native windows keep in the broker: which window is which frame, their
 * relations (parent, opener), names, origins; and tells every agent how
 * to reach every other window through the web's own WindowProxy
 * properties (a "route": top, opener, frames[N], or a window.open()
 * handle), which is how an agent posts to a window and recognises
 * event.source.
 */
(function () {
	'use strict';
	const host = globalThis.__cpHost;
	const WAIT_MS = 10000;

	const agents = new Map();    /* runner's window index -> {window: id|0, claim} */
	const windows = new Map();   /* id -> window record */
	const byFrame = new Map();   /* frame id -> window id */
	const calls = new Map();     /* call number -> resolve */
	const frameQueues = new Map();
	const helloWaiters = [];     /* {frame|null, nonce, resolve} */
	let nextId = 1, nextCall = 1, nextPort = 1;

	function tell(msg) {
		host(JSON.stringify(msg));
	}

	function sendLine(k, obj) {
		tell({op: 'send', agent: k, line: JSON.stringify(obj)});
	}

	/* One command to the agent in a frame, after those before it. */
	function callFrame(frame, cmd) {
		const prev = frameQueues.get(frame) || Promise.resolve();
		const p = prev.then(() => new Promise(resolve => {
			const n = nextCall++;
			calls.set(n, resolve);
			tell({op: 'eval', frame, call: n, text: JSON.stringify(cmd)});
		})).then(text => JSON.parse(text));
		frameQueues.set(frame, p.catch(() => {}));
		return p;
	}

	/* The next hello of frame after oldNonce's document, or (frame null)
	 * of a new frame loading url: a frame's initial about:blank, replaced
	 * at once by url's document, is not the one. */
	function waitHello(frame, oldNonce, ms, url, anyNav) {
		return new Promise(resolve => {
			const initial = !url || /^\s*(about:blank|javascript:)/i.test(url);
			const w = {frame, oldNonce, resolve, skipBlank: frame === null && !initial, anyNav};
			helloWaiters.push(w);
			setTimeout(() => {
				const i = helloWaiters.indexOf(w);
				if (i >= 0) {
					helloWaiters.splice(i, 1);
					resolve(null);
				}
			}, ms || WAIT_MS);
		});
	}

	function live(w) {
		return w && !w.closed;
	}

	/* The page a window is in: 0 for the controller's, else the popup's id. */
	function rootOf(w) {
		while (w.kind === 'frame')
			w = windows.get(w.parent);
		return w.kind === 'top' ? 0 : w.id;
	}

	/* frames[] index of a frame (or controller iframe) among its siblings. */
	function indexOf(w) {
		let i = 0;
		for (const x of windows.values()) {
			if (x === w)
				return i;
			if (live(x) && x.kind === w.kind && (w.kind === 'top' || x.parent === w.parent))
				i++;
		}
		return -1;
	}

	/* Steps from the top of w's page down to w. */
	function within(w) {
		const steps = [];
		while (w.kind === 'frame') {
			steps.unshift(indexOf(w));
			w = windows.get(w.parent);
		}
		if (w.kind === 'top')
			steps.unshift(indexOf(w));
		return steps;
	}

	/* How a document in window a reaches window t, or null. */
	function route(a, t, first) {
		const ra = rootOf(a), rt = rootOf(t);
		if (ra === rt)
			return ['realTop', ...within(t)];
		if (first && rt !== 0) {
			const p = windows.get(rt);
			if (p.holder === a.id)
				return [{handle: p.id}, ...within(t).slice(0)];
		}
		if (ra !== 0) {
			const p = windows.get(ra);
			const o = p.opener ? windows.get(p.opener) : null;
			if (live(o)) {
				const rest = route(o, t, false);
				if (rest)
					return ['realTop', 'opener', ...rest];
			}
		}
		return null;
	}

	function scenarioTop(w) {
		while (w.kind === 'frame')
			w = windows.get(w.parent);
		return w.id;
	}

	function directoryFor(a) {
		const list = [];
		for (const t of windows.values())
			if (live(t) && t !== a)
				list.push({id: t.id, name: t.name, route: route(a, t, true)});
		return {cmd: 'directory', directory: list, self: a.id, selfName: a.name, topId: scenarioTop(a),
			topLevel: a.kind !== 'frame'};
	}

	function pushDirectories() {
		const all = [];
		for (const w of windows.values())
			if (live(w) && w.frame)
				all.push(callFrame(w.frame, directoryFor(w)));
		return Promise.all(all);
	}

	function unsupported(reason) {
		return {kind: 'result', ok: false, unsupported: reason};
	}

	function failure(name, message) {
		return {kind: 'result', ok: false, error: name, message};
	}

	function newWindow(kind, frame, hello, extra) {
		const w = Object.assign({id: nextId++, kind, frame, origin: hello.origin, nonce: hello.nonce,
			closed: false, name: null, parent: 0, opener: 0, holder: 0, agent: -1, pending: []}, extra);
		windows.set(w.id, w);
		byFrame.set(frame, w.id);
		return w;
	}

	function bind(k, w) {
		agents.get(k).window = w.id;
		w.agent = k;
		/* From now on the host sends k's plain commands straight to the
		 * frame, and the frame's events straight to k. */
		tell({op: 'bind', agent: k, frame: w.frame});
		for (const ev of w.pending)
			sendLine(k, ev);
		w.pending = [];
	}

	function checkURL(url) {
		try {
			return new URL(url);
		} catch (e) {
			return null;
		}
	}

	function browserless(url) {
		const u = checkURL(url);
		if (u && u.protocol === 'file:')
			return 'a page of a web origin cannot frame or open file: URLs';
		if (u && !['http:', 'https:', 'about:', 'data:', 'javascript:', 'blob:'].includes(u.protocol))
			return 'Chromium cannot load ' + u.protocol + ' pages here';
		return null;
	}

	const commands = {
		async open(k, cmd) {
			if (cmd.privileged)
				return unsupported('privileged windows are crosspost\'s (a browser page has no such window)');
			const why = browserless(cmd.url);
			if (why)
				return unsupported(why);
			if (!checkURL(cmd.url))
				return failure('SyntaxError', 'Failed to parse URL from ' + cmd.url);
			const f = document.createElement('iframe');
			if (cmd.name !== null && cmd.name !== undefined)
				f.name = cmd.name;
			const hello = waitHello(null, 0, WAIT_MS, cmd.url);
			f.src = cmd.url;
			document.body.appendChild(f);
			const h = await hello;
			if (!h)
				return failure('NetworkError', 'the window at ' + cmd.url + ' never loaded');
			const w = newWindow('top', h.frame, h, {name: cmd.name || null, element: f});
			bind(k, w);
			await pushDirectories();
			return {kind: 'result', ok: true, id: w.id, origin: w.origin};
		},
		async claim(k, cmd) {
			const w = windows.get(Number(cmd.token));
			if (!w)
				return failure('NotFoundError', 'no window for claim ' + cmd.token);
			bind(k, w);
			return {kind: 'result', ok: true, id: w.id, origin: w.origin};
		},
		async iframe(k, cmd, me) {
			const why = browserless(cmd.url);
			if (why)
				return unsupported(why);
			const hello = waitHello(null, 0, WAIT_MS, cmd.url === 'about:srcdoc' ? 'x' : cmd.url);
			const r = await callFrame(me.frame, {cmd: 'iframe', url: cmd.url, target: cmd.target});
			if (!r.ok)
				return Object.assign({kind: 'result'}, r);
			const h = await hello;
			if (!h)
				return failure('NetworkError', 'the iframe at ' + cmd.url + ' never loaded');
			const w = newWindow('frame', h.frame, h, {parent: me.id, name: cmd.target || null});
			await callFrame(me.frame, {cmd: 'frame-made', id: w.id});
			await pushDirectories();
			return {kind: 'result', ok: true, id: w.id, token: String(w.id)};
		},
		async 'window-open'(k, cmd, me) {
			const why = browserless(cmd.url);
			if (why)
				return unsupported(why);
			/* window.open() may navigate a window it chose by name (even
			 * with noopener, when it returns null). */
			const hello = waitHello(null, 0, WAIT_MS, cmd.url, true);
			const r = await callFrame(me.frame, {cmd: 'window-open', url: cmd.url, target: cmd.target,
				noopener: cmd.noopener});
			if (!r.ok)
				return Object.assign({kind: 'result'}, r);
			if (r.existing) {
				const t = windows.get(r.existing);
				if (cmd.url && t) {
					const again = await waitHello(t.frame, t.nonce, 5000);
					if (again)
						await pushDirectories();
				}
				return {kind: 'result', ok: true, id: r.existing, token: null};
			}
			const h = await hello;
			if (!h)
				return failure('NetworkError', 'window.open(' + cmd.url + ') opened nothing');
			const known = byFrame.get(h.frame);
			if (known) {
				/* window.open() navigated a window it chose by name. */
				await pushDirectories();
				return {kind: 'result', ok: true, id: known, token: null};
			}
			const w = newWindow('popup', h.frame, h, {opener: cmd.noopener ? 0 : me.id,
				holder: cmd.noopener ? 0 : me.id,
				name: cmd.target && !cmd.target.startsWith('_') ? cmd.target : null});
			if (!cmd.noopener)
				await callFrame(me.frame, {cmd: 'keep', id: w.id});
			await pushDirectories();
			return {kind: 'result', ok: true, id: w.id, token: String(w.id)};
		},
		async navigate(k, cmd, me) {
			const why = browserless(cmd.url);
			if (why)
				return unsupported(why);
			const again = cmd.url.trim().toLowerCase().startsWith('javascript:') ? null :
				waitHello(me.frame, me.nonce, 5000);
			const r = await callFrame(me.frame, {cmd: 'navigate', url: cmd.url});
			if (!r.ok)
				return Object.assign({kind: 'result'}, r);
			if (again && await again)
				await pushDirectories();
			return {kind: 'result', ok: true};
		},
		async close(k, cmd, me) {
			if (me.kind === 'popup') {
				await callFrame(me.frame, {cmd: 'close-window', target: me.id});
			} else if (me.kind === 'top') {
				me.element.remove();
			} else {
				const p = windows.get(me.parent);
				if (live(p))
					await callFrame(p.frame, {cmd: 'remove', frame: me.id});
			}
			discard(me);
			await pushDirectories();
			return {kind: 'result', ok: true};
		},
		async remove(k, cmd, me) {
			const r = await callFrame(me.frame, {cmd: 'remove', frame: cmd.frame});
			if (r.ok) {
				const t = windows.get(cmd.frame);
				if (t)
					discard(t);
				await pushDirectories();
			}
			return Object.assign({kind: 'result'}, r);
		},
		async channel(k, cmd, me) {
			const ids = [nextPort++, nextPort++];
			return Object.assign({kind: 'result'}, await callFrame(me.frame, {cmd: 'channel', ids}));
		},
	};

	function discard(w) {
		w.closed = true;
		if (w.agent >= 0)
			tell({op: 'unbind', agent: w.agent});
		for (const x of windows.values())
			if (x.kind === 'frame' && x.parent === w.id && !x.closed)
				discard(x);
	}

	const forwarded = ['post', 'send', 'buffer', 'detached', 'bind', 'port-close', 'onmessage', 'port-listen',
		'port-start', 'broadcast-open', 'broadcast-post', 'broadcast-close', 'closed', 'close-window'];

	async function run(k, cmd) {
		const a = agents.get(k);
		const me = a.window ? windows.get(a.window) : null;
		if (cmd.corrupt)
			return unsupported('a browser cannot post bytes that do not deserialize (post-corrupt, send-corrupt)');
		if (cmd.cmd === 'hold' || cmd.cmd === 'release')
			return unsupported('a browser cannot hold a window\'s events undispatched (hold, release)');
		if (cmd.cmd === 'reconnect')
			return unsupported('a browser has no broker to restart');
		if (cmd.targetName !== undefined)
			return unsupported('name: targets are the broker\'s lookup; a page has no such call');
		if (cmd.cmd === 'open' || cmd.cmd === 'claim')
			return commands[cmd.cmd](k, cmd);
		if (!me)
			return failure('InvalidStateError', 'no window');
		if (me.closed)
			return cmd.cmd === 'close' ? {kind: 'result', ok: true} :
				failure('InvalidStateError', 'the window is closed');
		if (commands[cmd.cmd])
			return commands[cmd.cmd](k, cmd, me);
		if (!forwarded.includes(cmd.cmd))
			return unsupported('`' + cmd.cmd + '` has no browser equivalent here');
		const r = await callFrame(me.frame, cmd);
		if (cmd.cmd === 'close-window' && r.ok && r.closed) {
			const t = windows.get(r.target);
			if (t) {
				discard(t);
				await pushDirectories();
			}
		}
		return Object.assign({kind: 'result'}, r);
	}

	globalThis.__cpc = Object.freeze({
		agentNew(k, alias) {
			agents.set(k, {window: 0, alias, busy: Promise.resolve()});
		},
		command(k, text) {
			const a = agents.get(k);
			a.busy = a.busy.then(() => run(k, JSON.parse(text))).catch(e => failure('Error',
				'controller: ' + e.message)).then(res => sendLine(k, res));
		},
		answer(n, text) {
			const resolve = calls.get(n);
			calls.delete(n);
			if (resolve)
				resolve(text);
		},
		fromFrame(frame, text) {
			const m = JSON.parse(text);
			if (m.op === 'hello') {
				const h = Object.assign({frame}, m);
				const id = byFrame.get(frame);
				if (id) {
					const w = windows.get(id);
					w.origin = m.origin;
					w.nonce = m.nonce;
				}
				for (let i = 0; i < helloWaiters.length; i++) {
					const x = helloWaiters[i];
					if (x.frame === null && !id && x.skipBlank && m.href === 'about:blank')
						continue;
					if ((x.frame === null && (!id || x.anyNav)) || (x.frame === frame && x.oldNonce !== m.nonce)) {
						helloWaiters.splice(i, 1);
						x.resolve(h);
						return;
					}
				}
				if (id)
					pushDirectories();
				return;
			}
			if (m.op === 'event') {
				const w = windows.get(byFrame.get(frame));
				if (!w)
					return;
				const ev = m.event;
				if (ev.source && ev.source.id > 0) {
					const s = windows.get(ev.source.id);
					ev.source.name = s ? s.name : null;
				}
				if (w.agent >= 0)
					sendLine(w.agent, ev);
				else
					w.pending.push(ev);
			}
		},
		frameGone(frame) {
			const id = byFrame.get(frame);
			if (!id)
				return;
			byFrame.delete(frame);
			const w = windows.get(id);
			if (w.frame === frame) {
				discard(w);
				pushDirectories();
			}
		},
	});
	tell({op: 'ready'});
})();
