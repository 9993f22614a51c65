/* SPDX-License-Identifier: MIT */
/*
 * agent.js - the scenario runner's agent inside one document of headless
 * Chromium (`crosspost run --browser chromium`, docs/scenarios.md,
 * "Running in a real browser").  The browser host (runner/browser_host.c)
 * evaluates it, after gateway/crosspost.js (whose tagged-JSON encode and
 * decode it uses), in every document of every frame and popup.  It does
 * what `crosspost agent` does for a native window, with the web's own
 * calls: postMessage, MessageChannel, ArrayBuffer transfer, window.open,
 * iframes, location, BroadcastChannel; and reports every event it
 * receives.  The controller (controller.js) sends it one command at a time
 * through __cp.run(); it reports to the controller through the binding
 * __cpAgent (unprompted: hello, events).
 *
 * A transferred MessagePort is a new object in its receiver, so its
 * scenario id cannot be read from it: a post or send that transfers ports
 * puts a MessagePort of the agent's own first in the transfer list (the
 * "carrier"), and sends the scenario ids of the ports after it on that
 * carrier.  The receiving agent takes the carrier off event.ports and reads
 * the ids from it before it reports the event.  The carrier is never
 * reported; events keep their order.
 */
(function () {
	'use strict';
	if (globalThis.__cp)
		return;
	/* The binding, looked up when used: in a popup's first document it
	 * comes a moment after this script, so reports wait for it. */
	const waiting = [];
	function report(text) {
		if (typeof globalThis.__cpAgent !== 'function' || waiting.length) {
			waiting.push(text);
			if (waiting.length === 1)
				setTimeout(function retry() {
					if (typeof globalThis.__cpAgent !== 'function')
						return setTimeout(retry, 5);
					while (waiting.length)
						globalThis.__cpAgent(waiting.shift());
				}, 5);
			return;
		}
		globalThis.__cpAgent(text);
	}
	const cp = globalThis.crosspost;
	const PLACEHOLDER = '\u0001crosspost:';
	const CARRIER = '\u0001crosspost-carrier';

	const nonce = Math.random().toString(36).slice(2);
	const ports = new Map();        /* scenario id -> MessagePort */
	const portIds = new Map();      /* MessagePort -> scenario id */
	const portWaiters = new Map();  /* id -> [resolve] */
	const buffers = new Map();      /* scenario name -> ArrayBuffer */
	const handles = new Map();      /* window id -> WindowProxy window.open() returned */
	const channels = new Map();     /* id -> BroadcastChannel */
	const received = new Map();     /* event seq -> value */
	const frames = new Map();       /* window id -> <iframe> this document inserted */
	let directory = [];             /* [{id, name, route}] of the live windows */
	const known = new Map();        /* window id -> the WindowProxy its route last gave */
	let selfId = 0;
	let selfName = null;
	let scenarioTopId = 0;          /* the scenario's top-level window above this one */
	let topLevel = true;            /* a scenario top-level window (its real parent is the controller) */
	let seq = 0;
	let nextChannel = 1;
	let lastOpened = null;          /* what the last window.open() returned */
	let lastFrame = null;           /* the last <iframe> inserted */
	/* Reports go out in event order, even when one waits for its carrier. */
	let queue = Promise.resolve();

	function send(msg) {
		msg.nonce = nonce;
		report(JSON.stringify(msg));
	}

	function errorOf(e) {
		return {ok: false, error: e && e.name ? e.name : 'Error', message: e && e.message ? String(e.message) : String(e)};
	}

	/* A route is how this document reaches a window: steps from `window`. */
	function follow(route) {
		let w = window;
		for (const step of route) {
			if (w === null || w === undefined)
				return null;
			if (typeof step === 'number')
				w = w[step];
			else if (step === 'realTop')
				w = w.top;
			else if (step === 'opener')
				w = w.opener;
			else if (step === 'parent')
				w = w.parent;
			else if (typeof step === 'object' && step.handle !== undefined)
				w = handles.get(step.handle);
			else
				return null;
		}
		return w === undefined ? null : w;
	}

	/* The window id of a WindowProxy, as far as this document can tell. */
	function identify(proxy) {
		if (proxy === null || proxy === undefined)
			return 0;
		if (proxy === window)
			return selfId;
		for (const d of directory) {
			try {
				if (d.route && follow(d.route) === proxy)
					return d.id;
			} catch (e) { /* a route through a closed window */ }
		}
		for (const [id, h] of handles)
			if (h === proxy)
				return id;
		for (const [id, h] of known)
			if (h === proxy)
				return id;
		return -1;
	}

	function waitPort(id) {
		const p = ports.get(id);
		if (p)
			return Promise.resolve(p);
		return new Promise((resolve, reject) => {
			const list = portWaiters.get(id) || [];
			list.push(resolve);
			portWaiters.set(id, list);
			setTimeout(() => reject(new DOMException('port ' + id + ' is not in this document (it belonged to ' +
				'one this window navigated away from, or never came)', 'crosspost-unreachable')), 2000);
		});
	}

	function addPort(id, port) {
		ports.set(id, port);
		portIds.set(port, id);
		for (const resolve of portWaiters.get(id) || [])
			resolve(port);
		portWaiters.delete(id);
	}

	/* DATA with placeholders (scenario_value.h) -> a value of this realm. */
	async function value(cmd) {
		const named = cmd.portIds || {};
		const resolved = new Map();
		for (const alias of Object.keys(named))
			resolved.set(alias, await waitPort(named[alias]));
		const wrapper = [JSON.parse(cmd.data)];
		(function mask(n) {
			if (n === null || typeof n !== 'object')
				return;
			for (const k of Object.keys(n)) {
				const c = n[k];
				if (c && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 1 &&
				    typeof c.$host === 'string')
					n[k] = {$port: c.$host};
				else
					mask(c);
			}
		})(wrapper);
		const text = JSON.stringify(wrapper[0]);
		return cp.decode(text, {ports: {get(desc) {
			if (typeof desc !== 'string' || !desc.startsWith(PLACEHOLDER))
				return function hostObject() {};        /* {"$host":...}: not cloneable */
			const what = desc.slice(PLACEHOLDER.length);
			if (what.startsWith('buffer:'))
				return bufferOf(what.slice(7));
			if (what.startsWith('port:'))
				return resolved.get(what.slice(5));
			if (what.startsWith('view:')) {
				const [kind, off, len, ...rest] = what.slice(5).split(':');
				const Ctor = kind === 'DataView' ? DataView : globalThis[kind];
				return new Ctor(bufferOf(rest.join(':')), Number(off), Number(len));
			}
			return undefined;
		}}});
	}

	/* The transfer list, and the ids of the ports in it (for the carrier). */
	async function transferList(cmd) {
		const list = [], ids = [];
		for (const t of cmd.transfer || []) {
			if (t.port !== undefined) {
				const p = await waitPort(t.port);
				list.push(p);
				ids.push(t.port);
			} else if (t.buffer !== undefined) {
				list.push(bufferOf(t.buffer));
			} else {
				list.push(window);      /* a window: not transferable */
			}
		}
		return {list, ids};
	}

	/* Posts with a carrier in front when ports move. */
	function withCarrier(post, list, ids) {
		if (!ids.length)
			return post(list);
		const c = new MessageChannel();
		c.port1.postMessage({[CARRIER]: ids});
		try {
			post([c.port2, ...list]);
		} catch (e) {
			c.port1.close();
			throw e;
		}
		c.port1.close();
	}

	function relation(cmd) {
		switch (cmd.relation) {
		case 'opener': return window.opener;
		/* A scenario's top-level window is an iframe of the controller
		 * page: its parent and top are itself. */
		case 'parent': return topLevel ? window : window.parent;
		case 'top': {
			if (scenarioTopId === selfId)
				return window;
			const d = directory.find(x => x.id === scenarioTopId);
			return d ? follow(d.route) : window.top;
		}
		case 'frame': return cmd.name !== undefined ? window[cmd.name] : window[cmd.index];
		}
		return null;
	}

	function target(cmd) {
		if (cmd.relation)
			return relation(cmd);
		if (cmd.target === selfId)
			return window;
		const d = directory.find(x => x.id === cmd.target);
		if (handles.has(cmd.target))
			return handles.get(cmd.target);
		if (known.has(cmd.target))
			return known.get(cmd.target);
		if (d && d.route) {
			const w = follow(d.route);
			if (w)
				known.set(cmd.target, w);
			return w;
		}
		return null;
	}

	function reported(ev, extra) {
		const my = ++seq;
		const all = Array.from(ev.ports || []);
		let carrier = null;
		if (all.length && extra.windowOrPort)
			carrier = all.shift();
		const idsOf = carrier ? new Promise(resolve => {
			carrier.onmessage = m => {
				carrier.close();
				resolve(m.data && m.data[CARRIER] || []);
			};
			setTimeout(() => resolve(null), 3000);
		}) : Promise.resolve([]);
		queue = queue.then(async () => {
			const ids = await idsOf || [];
			const got = [];
			all.forEach((p, i) => {
				const id = ids[i] !== undefined ? ids[i] : -1;
				addPort(id, p);
				got.push(id);
			});
			const msg = {kind: 'event', seq: my, type: ev.type, origin: ev.origin, ports: got,
				lastEventId: ev.lastEventId};
			if (ev.type === 'message') {
				received.set(my, ev.data);
				try {
					msg.data = cp.encode(ev.data, {nativePorts: true, ports: p => portIds.get(p)});
				} catch (e) {
					msg.data = JSON.stringify({$error: ['Error', 'cannot encode: ' + e.message]});
				}
			} else {
				msg.data = null;
			}
			if (extra.source) {
				const id = identify(ev.source);
				const d = directory.find(x => x.id === id);
				msg.source = ev.source ? {id, name: id === selfId ? selfName : d ? d.name : null} : null;
			} else {
				msg.source = null;
			}
			if (extra.port)
				msg.port = extra.port;
			if (extra.broadcast)
				msg.broadcast = extra.broadcast;
			send({op: 'event', event: msg});
		});
	}

	window.addEventListener('message', ev => reported(ev, {windowOrPort: true, source: true}));
	window.addEventListener('messageerror', ev => reported(ev, {windowOrPort: true, source: true}));

	function portListen(id, port) {
		port.addEventListener('message', ev => reported(ev, {windowOrPort: true, port: id}));
		port.addEventListener('messageerror', ev => reported(ev, {windowOrPort: true, port: id}));
	}

	/* ArrayBuffers of a value in scenario_value_buffers() order. */
	function buffersOf(v) {
		const seen = new Set(), out = [];
		(function walk(x) {
			if (x === null || (typeof x !== 'object' && typeof x !== 'function') || seen.has(x))
				return;
			seen.add(x);
			if (x instanceof ArrayBuffer) {
				out.push(x);
			} else if (ArrayBuffer.isView(x)) {
				walk(x.buffer);
			} else if (x instanceof Map) {
				for (const [k, y] of x) {
					walk(k);
					walk(y);
				}
			} else if (x instanceof Set) {
				for (const y of x)
					walk(y);
			} else if (Array.isArray(x) || Object.getPrototypeOf(x) === Object.prototype) {
				for (const k of Object.keys(x))
					walk(x[k]);
			}
		})(v);
		return out;
	}

	function unreachable(what) {
		return new DOMException(what + ' is not in this document: it belonged to one this window navigated ' +
			'away from', 'crosspost-unreachable');
	}

	function channelOf(id) {
		const c = channels.get(id);
		if (!c)
			throw unreachable('the BroadcastChannel');
		return c;
	}

	function bufferOf(name) {
		const b = buffers.get(name);
		if (!b)
			throw unreachable('buffer ' + name);
		return b;
	}

	/* A window this document has no way to reach (in crosspost any window
	 * can name any other): the statement cannot be expressed here. */
	function reachable(cmd) {
		if (cmd.relation || cmd.target === undefined || cmd.target === selfId)
			return;
		const d = directory.find(x => x.id === cmd.target);
		if (handles.has(cmd.target) || known.has(cmd.target) || (d && d.route))
			return;
		if (d)
			throw new DOMException('in a browser this window holds no reference to the target (no opener, ' +
				'parent, frames or window.open() handle leads there)', 'crosspost-unreachable');
	}

	const commands = {
		async post(cmd) {
			reachable(cmd);
			const w = target(cmd);
			const data = await value(cmd);
			const {list, ids} = await transferList(cmd);
			if (w === null || w === undefined)
				throw new TypeError('Cannot read properties of null (reading \'postMessage\')');
			withCarrier(l => w.postMessage(data, cmd.targetOrigin, l), list, ids);
			return {target: identify(w)};
		},
		async send(cmd) {
			const port = await waitPort(cmd.port);
			const data = await value(cmd);
			const {list, ids} = await transferList(cmd);
			withCarrier(l => port.postMessage(data, l), list, ids);
			return {};
		},
		channel(cmd) {
			const c = new MessageChannel();
			addPort(cmd.ids[0], c.port1);
			addPort(cmd.ids[1], c.port2);
			return {ports: cmd.ids};
		},
		buffer(cmd) {
			let b;
			if (cmd.bytes !== undefined && cmd.bytes !== null) {
				b = cp.decode(JSON.stringify({$bytes: cmd.bytes}));
			} else {
				b = new ArrayBuffer(cmd.size);
				new Uint8Array(b).fill(cmd.fill || 0);
			}
			buffers.set(cmd.name, b);
			return {};
		},
		detached(cmd) {
			const b = bufferOf(cmd.name);
			return {byteLength: b.byteLength, detached: b.detached === true};
		},
		bind(cmd) {
			const list = buffersOf(received.get(cmd.event));
			for (const [name, rank] of cmd.buffers)
				buffers.set(name, list[rank]);
			return {};
		},
		async 'port-close'(cmd) {
			(await waitPort(cmd.port)).close();
			return {};
		},
		async onmessage(cmd) {
			const id = cmd.port, p = await waitPort(id);
			p.onmessage = ev => reported(ev, {windowOrPort: true, port: id});
			p.onmessageerror = ev => reported(ev, {windowOrPort: true, port: id});
			return {};
		},
		async 'port-listen'(cmd) {
			portListen(cmd.port, await waitPort(cmd.port));
			return {};
		},
		async 'port-start'(cmd) {
			(await waitPort(cmd.port)).start();
			return {};
		},
		'broadcast-open'(cmd) {
			const c = new BroadcastChannel(cmd.name), id = nextChannel++;
			channels.set(id, c);
			c.onmessage = ev => reported(ev, {broadcast: id});
			c.onmessageerror = ev => reported(ev, {broadcast: id});
			return {channel: id};
		},
		async 'broadcast-post'(cmd) {
			channelOf(cmd.channel).postMessage(await value(cmd));
			return {};
		},
		'broadcast-close'(cmd) {
			channelOf(cmd.channel).close();
			return {};
		},
		navigate(cmd) {
			location.href = cmd.url;
			return {};
		},
		'window-open'(cmd) {
			const w = window.open(cmd.url, cmd.target, cmd.noopener ? 'noopener' : '');
			const id = w ? identify(w) : 0;
			lastOpened = w;
			return {existing: id > 0 ? id : 0};
		},
		keep(cmd) {
			/* The window the last window.open() made is cmd.id. */
			const w = lastOpened;
			if (w)
				handles.set(cmd.id, w);
			return {};
		},
		iframe(cmd) {
			const f = document.createElement('iframe');
			if (cmd.target)
				f.name = cmd.target;
			if (cmd.url === 'about:srcdoc')
				f.srcdoc = '<!doctype html><title>srcdoc</title>';
			else
				f.src = cmd.url;
			(document.body || document.documentElement).appendChild(f);
			lastFrame = f;
			return {};
		},
		'frame-made'(cmd) {
			frames.set(cmd.id, lastFrame);
			return {};
		},
		remove(cmd) {
			const f = frames.get(cmd.frame);
			if (!f || !f.isConnected)
				throw new DOMException('no such iframe', 'NotFoundError');
			f.remove();
			return {};
		},
		closed(cmd) {
			const w = target({target: cmd.id});
			if (!w)
				throw new DOMException('this document holds no reference to window ' + cmd.id +
					' (it navigated since, or never had one)', 'crosspost-unreachable');
			return {closed: w.closed};
		},
		'close-window'(cmd) {
			reachable(cmd);
			const w = target(cmd);
			if (!w)
				throw new TypeError('Cannot read properties of null (reading \'close\')');
			w.close();
			return {closed: w.closed, target: identify(w)};
		},
		directory(cmd) {
			directory = cmd.directory;
			selfId = cmd.self;
			selfName = cmd.selfName;
			scenarioTopId = cmd.topId;
			topLevel = cmd.topLevel;
			for (const d of directory) {
				try {
					/* A window's WindowProxy is one for its whole life:
					 * the first one a route gave stays (a later route may
					 * lead elsewhere, once frames move up). */
					const w = d.route && !known.has(d.id) ? follow(d.route) : null;
					if (w)
						known.set(d.id, w);
				} catch (e) { /* not reachable now */ }
			}
			return {};
		},
	};

	globalThis.__cp = Object.freeze({
		/* One command (JSON text) -> its result (JSON text). */
		async run(text) {
			const cmd = JSON.parse(text);
			try {
				const r = await commands[cmd.cmd](cmd);
				return JSON.stringify(Object.assign({ok: true}, r));
			} catch (e) {
				if (e && e.name === 'crosspost-unreachable')
					return JSON.stringify({ok: false, unsupported: e.message});
				return JSON.stringify(errorOf(e));
			}
		},
	});
	send({op: 'hello', origin: self.origin, href: location.href});
})();
