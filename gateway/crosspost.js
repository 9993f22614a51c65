/* SPDX-License-Identifier: MIT */
/*
 * crosspost.js - browser pages as crosspost windows, through crosspost-gateway
 * (docs/gateway.md).  Load it from the gateway:
 *
 *   <script src="http://127.0.0.1:8700/crosspost.js?token=TOKEN"></script>
 *   const w = await crosspost.open({name: 'widget'});
 *   w.addEventListener('message', e => { ... e.data, e.origin, e.source, e.ports ... });
 *   w.postMessage('native-app', {hello: 1}, 'https://app.example');
 *
 * Values travel as the tagged JSON of docs/values.md: this file converts
 * between it and JavaScript values (encode/decode below); the gateway
 * converts between it and crosspost's values.
 */
(function (global) {
	'use strict';

	const SUBPROTOCOL = 'crosspost.v1';
	const WS_PATH = '/crosspost';
	/* Deeper values are refused (the gateway's JSON reader stops at 2048,
	 * the envelope taking one level). */
	const DEPTH_MAX = 2000;
	const ERROR_NAMES = ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError',
		'URIError'];
	const VIEW_KINDS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
		'Int32Array', 'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array',
		'BigUint64Array', 'DataView'];

	const scriptURL = global.document && document.currentScript && document.currentScript.src ?
		new URL(document.currentScript.src) : null;

	/* An error as the web raises it: TypeError and RangeError are
	 * JavaScript errors, the rest DOMExceptions. */
	function makeError(name, message) {
		if (name === 'TypeError')
			return new TypeError(message);
		if (name === 'RangeError')
			return new RangeError(message);
		return new DOMException(message, name);
	}

	/* ---- brand checks: what a value is, by its internal slots ---- */

	function getter(proto, name) {
		const d = Object.getOwnPropertyDescriptor(proto, name);
		return d && d.get;
	}
	const abByteLength = getter(ArrayBuffer.prototype, 'byteLength');
	const abDetached = getter(ArrayBuffer.prototype, 'detached');
	const taTag = getter(Object.getPrototypeOf(Int8Array.prototype), Symbol.toStringTag);
	const mapSize = getter(Map.prototype, 'size');
	const setSize = getter(Set.prototype, 'size');
	const regexpSource = getter(RegExp.prototype, 'source');
	const regexpFlags = getter(RegExp.prototype, 'flags');

	function has(fn, v) {
		try {
			fn.call(v);
			return true;
		} catch (e) {
			return false;
		}
	}
	const isArrayBuffer = v => has(abByteLength, v);
	const isMap = v => has(mapSize, v);
	const isSet = v => has(setSize, v);
	const isDate = v => has(Date.prototype.getTime, v);
	const isRegExp = v => v !== RegExp.prototype && has(regexpSource, v);
	const isBooleanObject = v => has(Boolean.prototype.valueOf, v);
	const isNumberObject = v => has(Number.prototype.valueOf, v);
	const isStringObject = v => has(String.prototype.valueOf, v);
	const isBigIntObject = v => typeof BigInt !== 'undefined' && has(BigInt.prototype.valueOf, v);
	const isError = v => typeof Error.isError === 'function' ? Error.isError(v) :
		Object.prototype.toString.call(v) === '[object Error]';
	function viewKind(v) {
		if (!ArrayBuffer.isView(v))
			return null;
		return taTag.call(v) || 'DataView';
	}
	function isDetached(buffer) {
		return abDetached ? abDetached.call(buffer) : false;
	}

	/* ---- base64 ---- */

	function toBase64(bytes) {
		if (typeof bytes.toBase64 === 'function')
			return bytes.toBase64();
		let s = '';
		for (let i = 0; i < bytes.length; i += 0x8000)
			s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
		return btoa(s);
	}

	function fromBase64(text) {
		if (typeof text !== 'string')
			throw new TypeError('base64 text expected');
		if (typeof Uint8Array.fromBase64 === 'function')
			return Uint8Array.fromBase64(text);
		const s = atob(text);
		const bytes = new Uint8Array(s.length);
		for (let i = 0; i < s.length; i++)
			bytes[i] = s.charCodeAt(i);
		return bytes;
	}

	/* ---- strings with lone surrogates ---- */

	function isWellFormed(s) {
		if (typeof s.isWellFormed === 'function')
			return s.isWellFormed();
		return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
	}

	/* A string as tagged JSON: itself, or {"$string":[...]} with each lone
	 * surrogate as a code unit. */
	function encodeString(s) {
		if (isWellFormed(s))
			return s;
		const parts = [];
		let run = '';
		for (let i = 0; i < s.length; i++) {
			const c = s.charCodeAt(i);
			if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) {
				const d = s.charCodeAt(i + 1);
				if (d >= 0xDC00 && d <= 0xDFFF) {
					run += s[i] + s[i + 1];
					i++;
					continue;
				}
			}
			if (c >= 0xD800 && c <= 0xDFFF) {
				if (run)
					parts.push(run);
				run = '';
				parts.push(c);
			} else {
				run += s[i];
			}
		}
		if (run)
			parts.push(run);
		return {$string: parts};
	}

	function decodeString(node) {
		if (typeof node === 'string')
			return node;
		if (node && typeof node === 'object' && Array.isArray(node.$string)) {
			let s = '';
			for (const part of node.$string)
				s += typeof part === 'number' ? String.fromCharCode(part) : String(part);
			return s;
		}
		throw new TypeError('a string expected');
	}

	/* ---- JavaScript value -> tagged JSON text (docs/values.md) ---- */

	function dataCloneError(message) {
		return new DOMException(message, 'DataCloneError');
	}

	function describe(v) {
		if (typeof v === 'function')
			return 'function ' + (v.name || '(anonymous)');
		if (typeof v === 'symbol')
			return String(v);
		return Object.prototype.toString.call(v).slice(8, -1) + ' object';
	}

	/* encode(value, options) -> tagged JSON text.  options.ports: a
	 * function (port) -> its handle, for CrosspostPorts (which must be in
	 * the transfer list); without it a port is a DataCloneError.  Shared
	 * references and cycles keep their shape ($id/$ref). */
	function encode(value, options) {
		const portHandle = options && options.ports;
		const seen = new Map();       /* object -> {node, id} */
		const nodeIds = new Map();    /* node -> id, for nodes met twice */
		let nextId = 0;

		function entry(obj) {
			const e = seen.get(obj);
			if (!e.id) {
				e.id = ++nextId;
				nodeIds.set(e.node, e.id);
			}
			return {$ref: e.id};
		}

		function keyed(obj, node) {
			seen.set(obj, {node, id: 0});
			return node;
		}

		function props(obj, keys, depth) {
			return keys.map(k => [encodeString(k), enc(obj[k], depth + 1)]);
		}

		function enc(v, depth) {
			if (depth > DEPTH_MAX)
				throw dataCloneError('the value is nested deeper than ' + DEPTH_MAX + ' levels');
			switch (typeof v) {
			case 'undefined': return {$undefined: null};
			case 'boolean': return v;
			case 'string': return encodeString(v);
			case 'bigint': return {$bigint: v.toString()};
			case 'number':
				if (Number.isNaN(v))
					return {$number: 'NaN'};
				if (v === Infinity)
					return {$number: 'Infinity'};
				if (v === -Infinity)
					return {$number: '-Infinity'};
				if (Object.is(v, -0))
					return {$number: '-0'};
				return v;
			case 'symbol':
			case 'function':
				throw dataCloneError(describe(v) + ' could not be cloned.');
			}
			if (v === null)
				return null;
			if (seen.has(v))
				return entry(v);
			/* options.nativePorts: real MessagePorts are ports too (the
			 * scenario runner's in-page agent, runner/browser/agent.js). */
			if (v instanceof CrosspostPort || (options && options.nativePorts && typeof MessagePort !== 'undefined' &&
				v instanceof MessagePort)) {
				const h = portHandle ? portHandle(v) : undefined;
				if (h === undefined)
					throw dataCloneError('A MessagePort in the data must be in the transfer list.');
				return keyed(v, {$port: h});
			}
			if (Array.isArray(v)) {
				const keys = Object.keys(v);
				let dense = keys.length === v.length;
				for (let i = 0; dense && i < keys.length; i++)
					dense = keys[i] === String(i);
				if (dense) {
					const node = keyed(v, []);
					for (let i = 0; i < v.length; i++)
						node.push(enc(v[i], depth + 1));
					return node;
				}
				const body = [v.length, [], []];
				const node = keyed(v, {$array: body});
				for (const k of keys) {
					const i = Number(k);
					if (String(i >>> 0) === k && i >>> 0 !== 0xFFFFFFFF && i < v.length)
						body[1].push([i, enc(v[k], depth + 1)]);
					else
						body[2].push([encodeString(k), enc(v[k], depth + 1)]);
				}
				return node;
			}
			if (isBooleanObject(v) || isNumberObject(v) || isStringObject(v) || isBigIntObject(v))
				return keyed(v, {$wrapper: enc(v.valueOf(), depth + 1)});
			if (isDate(v)) {
				const t = v.getTime();
				return keyed(v, {$date: Number.isNaN(t) ? {$number: 'NaN'} : t});
			}
			if (isRegExp(v))
				return keyed(v, {$regexp: [encodeString(regexpSource.call(v)), regexpFlags.call(v)]});
			if (isArrayBuffer(v)) {
				if (isDetached(v))
					throw dataCloneError('An ArrayBuffer is detached and could not be cloned.');
				return keyed(v, {$bytes: toBase64(new Uint8Array(v))});
			}
			const kind = viewKind(v);
			if (kind) {
				if (isDetached(v.buffer))
					throw dataCloneError('An ArrayBuffer is detached and could not be cloned.');
				const body = [kind, null, v.byteOffset,
					kind === 'DataView' ? v.byteLength : v.length];
				const node = keyed(v, {$typed: body});
				body[1] = enc(v.buffer, depth + 1);
				return node;
			}
			if (isMap(v)) {
				const body = [];
				const node = keyed(v, {$map: body});
				for (const [k, x] of v)
					body.push([enc(k, depth + 1), enc(x, depth + 1)]);
				return node;
			}
			if (isSet(v)) {
				const body = [];
				const node = keyed(v, {$set: body});
				for (const x of v)
					body.push(enc(x, depth + 1));
				return node;
			}
			if (isError(v)) {
				const name = ERROR_NAMES.includes(v.name) ? v.name : 'Error';
				const msg = Object.prototype.hasOwnProperty.call(v, 'message') ? encodeString(String(v.message)) : null;
				const stack = typeof v.stack === 'string' ? encodeString(v.stack) : null;
				const body = stack !== null ? [name, msg, stack] : msg !== null ? [name, msg] : [name];
				return keyed(v, {$error: body});
			}
			if (typeof MessagePort !== 'undefined' && v instanceof MessagePort)
				throw dataCloneError('A browser MessagePort cannot go through the gateway; ' +
					'use crosspost.MessageChannel.');
			const tag = Object.prototype.toString.call(v);
			if (tag !== '[object Object]' && tag !== '[object Arguments]')
				throw dataCloneError(describe(v) + ' could not be cloned.');
			const keys = Object.keys(v);
			const plain = !(keys.length === 1 && keys[0][0] === '$') &&
				!(keys.length === 2 && keys.includes('$id') && keys.includes('$value')) &&
				keys.every(k => !k.includes('\0') && isWellFormed(k));
			if (!plain) {
				const body = [];
				const node = keyed(v, {$object: body});
				body.push(...props(v, keys, depth));
				return node;
			}
			const node = keyed(v, {});
			for (const k of keys)
				Object.defineProperty(node, k, {value: enc(v[k], depth + 1), enumerable: true,
					writable: true, configurable: true});
			return node;
		}

		const root = enc(value, 0);
		const wrapped = new Set();
		return JSON.stringify(root, function (key, v) {
			if (v !== null && typeof v === 'object' && nodeIds.has(v) && !wrapped.has(v)) {
				wrapped.add(v);
				return {$id: nodeIds.get(v), $value: v};
			}
			return v;
		});
	}

	/* ---- tagged JSON -> JavaScript value ---- */

	/* decode(node, options): node is parsed JSON (or text);
	 * options.ports: a Map from the ids in {"$port":ID} to CrosspostPorts. */
	function decode(node, options) {
		if (typeof node === 'string' && options && options.text)
			node = JSON.parse(node);
		const ports = options && options.ports;
		const ids = new Map();

		function register(id, v) {
			if (id !== undefined)
				ids.set(id, v);
			return v;
		}

		function num(n) {
			if (typeof n === 'number')
				return n;
			if (n && typeof n === 'object' && '$number' in n) {
				switch (n.$number) {
				case 'NaN': return NaN;
				case 'Infinity': return Infinity;
				case '-Infinity': return -Infinity;
				case '-0': return -0;
				}
			}
			throw new TypeError('a number expected');
		}

		function buffer(b) {
			const bytes = fromBase64(b);
			return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ?
				bytes.buffer : bytes.slice().buffer;
		}

		function dec(n, id) {
			if (n === null || typeof n !== 'object')
				return register(id, n);
			if (Array.isArray(n)) {
				const a = register(id, new Array(n.length));
				for (let i = 0; i < n.length; i++)
					a[i] = dec(n[i]);
				return a;
			}
			const keys = Object.keys(n);
			if (keys.length === 2 && '$id' in n && '$value' in n)
				return dec(n.$value, n.$id);
			if (keys.length !== 1 || keys[0][0] !== '$') {
				const o = register(id, {});
				for (const k of keys)
					Object.defineProperty(o, k, {value: dec(n[k]), enumerable: true, writable: true,
						configurable: true});
				return o;
			}
			const body = n[keys[0]];
			switch (keys[0]) {
			case '$ref':
				if (!ids.has(body))
					throw new TypeError('$ref ' + body + ' before its $id');
				return ids.get(body);
			case '$undefined': return register(id, undefined);
			case '$number': return register(id, num(n));
			case '$bigint': return register(id, BigInt(body));
			case '$string': return register(id, decodeString(n));
			case '$wrapper': {
				const p = dec(body);
				return register(id, Object(p));
			}
			case '$date': return register(id, new Date(num(body)));
			case '$regexp': return register(id, new RegExp(decodeString(body[0]), body[1]));
			case '$bytes': return register(id, buffer(body));
			case '$typed': {
				const [name, b, offset, length] = body;
				const Ctor = name === 'DataView' ? DataView : VIEW_KINDS.includes(name) && global[name];
				if (!Ctor)
					throw new TypeError(name + ' is not available here');
				if (body.length === 2) {
					const buf = buffer(b);
					return register(id, name === 'DataView' ? new DataView(buf) : new Ctor(buf));
				}
				const buf = dec(b);
				return register(id, new Ctor(buf, offset, length));
			}
			case '$map': {
				const m = register(id, new Map());
				for (const [k, v] of body)
					m.set(dec(k), dec(v));
				return m;
			}
			case '$set': {
				const s = register(id, new Set());
				for (const v of body)
					s.add(dec(v));
				return s;
			}
			case '$array': {
				const [length, elements, named] = body;
				const a = register(id, new Array(length));
				for (const [i, v] of elements)
					a[i] = dec(v);
				for (const [k, v] of named || [])
					Object.defineProperty(a, decodeString(k), {value: dec(v), enumerable: true,
						writable: true, configurable: true});
				return a;
			}
			case '$object': {
				const o = register(id, {});
				for (const [k, v] of body)
					Object.defineProperty(o, decodeString(k), {value: dec(v), enumerable: true,
						writable: true, configurable: true});
				return o;
			}
			case '$error': {
				const [name, message, stack] = body;
				const Ctor = ERROR_NAMES.includes(name) ? global[name] : Error;
				const e = message === undefined || message === null ? new Ctor() : new Ctor(decodeString(message));
				if (stack === undefined || stack === null)
					delete e.stack;
				else
					Object.defineProperty(e, 'stack', {value: decodeString(stack), writable: true,
						configurable: true});
				return register(id, e);
			}
			case '$port': {
				const p = ports && ports.get(body);
				if (!p)
					throw new TypeError('a MessagePort that did not come with the message');
				return register(id, p);
			}
			default:
				throw new TypeError('unknown tag ' + keys[0]);
			}
		}
		return dec(node);
	}

	/* ---- events ---- */

	class CrosspostMessageEvent extends Event {
		constructor(type, init) {
			super(type);
			Object.defineProperties(this, {
				data: {value: init.data, enumerable: true},
				origin: {value: init.origin, enumerable: true},
				source: {value: init.source, enumerable: true},
				ports: {value: Object.freeze(init.ports || []), enumerable: true},
				lastEventId: {value: '', enumerable: true},
			});
		}
	}

	/* An `onmessage`-style property: the handler runs as a listener. */
	function handlerProperty(target, name, onSet) {
		let handler = null;
		target.addEventListener(name, e => {
			if (typeof handler === 'function')
				handler.call(target, e);
		});
		Object.defineProperty(target, 'on' + name, {
			get: () => handler,
			set: h => {
				handler = typeof h === 'function' ? h : null;
				if (onSet)
					onSet();
			},
			enumerable: true,
		});
	}

	/* ---- the connection to the gateway (one per gateway URL and page) ---- */

	class Connection {
		constructor(url) {
			this.url = url;
			this.nextReq = 1;
			this.pending = new Map();
			this.windows = new Map();
			this.ports = new Map();
			this.nextPortHandle = 1;   /* the page's ports are odd, the gateway's even */
			this.closed = false;
			this.error = null;
			this.origin = null;
			this.limits = null;
			this.ready = new Promise((resolve, reject) => {
				this.ws = new WebSocket(url, SUBPROTOCOL);
				this.ws.onmessage = e => this.receive(e.data, resolve, reject);
				this.ws.onclose = e => this.lost(e, reject);
			});
		}

		receive(text, resolve, reject) {
			let m;
			try {
				m = JSON.parse(text);
			} catch (e) {
				return;
			}
			if (m.re !== undefined) {
				const p = this.pending.get(m.re);
				if (!p)
					return;
				this.pending.delete(m.re);
				if (m.error)
					p.reject(makeError(m.error.name, m.error.message));
				else
					p.resolve(m);
				return;
			}
			switch (m.ev) {
			case 'hello':
				this.origin = m.origin;
				this.limits = m.limits;
				resolve(this);
				return;
			case 'refused':
				this.error = makeError(m.error.name, 'the gateway refused this page: ' + m.error.message);
				reject(this.error);
				return;
			case 'disconnected':
				this.error = makeError(m.error.name, 'the gateway lost the broker: ' + m.error.message);
				return;
			case 'message':
			case 'messageerror':
				this.event(m);
				return;
			}
		}

		event(m) {
			const ports = [];
			const byId = new Map();
			for (const [id, handle] of m.ports || []) {
				const p = new CrosspostPort(this, handle);
				if (!handle)
					p._state = 'closed';
				ports.push(p);
				byId.set(id, p);
			}
			const target = m.window !== undefined ? this.windows.get(m.window) : this.ports.get(m.port);
			if (!target)
				return;
			let type = m.ev, data = null;
			if (type === 'message') {
				try {
					data = decode(m.data, {ports: byId});
				} catch (e) {
					type = 'messageerror';
				}
			}
			if (type === 'messageerror') {
				for (const p of ports)
					p.close();
				ports.length = 0;
			}
			const source = m.source && target instanceof CrosspostWindow ?
				new WindowRef(target, m.source.id, m.source.name) : null;
			target._deliver(new CrosspostMessageEvent(type, {data, origin: m.origin, source, ports}));
		}

		lost(e, reject) {
			this.closed = true;
			const error = this.error || makeError('NetworkError', 'the connection to the gateway closed' +
				(e.reason ? ': ' + e.reason : ' (code ' + e.code + ')'));
			reject(error);
			for (const p of this.pending.values())
				p.reject(error);
			this.pending.clear();
			for (const w of this.windows.values())
				w._closedByGateway(error);
			this.windows.clear();
			for (const p of this.ports.values())
				p._state = 'closed';
			this.ports.clear();
			for (const [url, c] of connections)
				if (c === this)
					connections.delete(url);
		}

		/* Sends op (an object) with data (tagged JSON text, or undefined);
		 * resolves with the answer. */
		request(op, dataText) {
			if (this.closed)
				return Promise.reject(this.error || makeError('InvalidStateError', 'the gateway connection is closed'));
			const req = this.nextReq++;
			let text = JSON.stringify(Object.assign({req}, op));
			if (dataText !== undefined)
				text = text.slice(0, -1) + ',"data":' + dataText + '}';
			const max = this.limits ? this.limits.maxMessageSize : Infinity;
			if (text.length > max / 3 && new TextEncoder().encode(text).length > max)
				return Promise.reject(makeError('QuotaExceededError', 'the message is over the gateway\'s ' +
					max + ' bytes (--max-message-size)'));
			return new Promise((resolve, reject) => {
				this.pending.set(req, {resolve, reject});
				this.ws.send(text);
			});
		}

		portHandle() {
			const h = this.nextPortHandle;
			this.nextPortHandle += 2;
			return h;
		}
	}

	const connections = new Map();

	function gatewayURL(options) {
		const base = options.gateway ? new URL(options.gateway, location.href) : scriptURL;
		if (!base)
			throw new TypeError('crosspost: say where the gateway is: open({gateway: "http://127.0.0.1:PORT/"})');
		const url = new URL(WS_PATH, base);
		url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
		url.search = '';
		url.hash = '';
		const token = options.token !== undefined ? options.token :
			scriptURL && !options.gateway ? scriptURL.searchParams.get('token') : null;
		if (token)
			url.searchParams.set('token', token);
		return url.href;
	}

	function connect(options) {
		const url = gatewayURL(options);
		let c = connections.get(url);
		if (!c) {
			c = new Connection(url);
			connections.set(url, c);
		}
		return c.ready;
	}

	/* ---- transfer lists ---- */

	/* Checks a transfer list as StructuredSerializeWithTransfer does,
	 * before anything is serialized; returns its ports and buffers. */
	function checkTransfer(conn, transfer, postingPort) {
		const list = transfer === undefined || transfer === null ? [] : Array.from(transfer);
		const seen = new Set(), ports = [], buffers = [];
		for (let i = 0; i < list.length; i++) {
			const t = list[i];
			if (seen.has(t))
				throw dataCloneError('Value at index ' + i + ' is a duplicate of an earlier value.');
			seen.add(t);
			if (t instanceof CrosspostPort) {
				if (t === postingPort)
					throw dataCloneError('Port at index ' + i + ' contains the source port.');
				if (t._state !== 'open')
					throw dataCloneError('Port at index ' + i + ' is ' + t._state + '.');
				if (t._conn !== conn)
					throw dataCloneError('Port at index ' + i + ' belongs to another gateway connection.');
				ports.push(t);
			} else if (isArrayBuffer(t)) {
				if (isDetached(t))
					throw dataCloneError('ArrayBuffer at index ' + i + ' is already detached.');
				buffers.push(t);
			} else {
				throw dataCloneError('Value at index ' + i + ' does not have a transferable type.');
			}
		}
		return {ports, buffers};
	}

	/* After a post: the buffers are detached, the ports gone. */
	function completeTransfer(conn, t) {
		for (const b of t.buffers) {
			if (typeof b.transfer === 'function')
				b.transfer();
			else
				structuredClone(b, {transfer: [b]});
		}
		for (const p of t.ports) {
			p._state = 'transferred';
			conn.ports.delete(p._handle);
		}
	}

	function encodeWithTransfer(message, t) {
		const allowed = new Set(t.ports);
		return encode(message, {ports: p => allowed.has(p) ? p._handle : undefined});
	}

	/* A promise whose rejection is not reported as unhandled: postMessage
	 * returns one, for callers that want to know; others can ignore it. */
	function quiet(promise) {
		promise.catch(() => {});
		return promise;
	}

	/* ---- windows ---- */

	/* A reference to a window that can be posted to: e.source, lookup(). */
	class WindowRef {
		constructor(via, id, name) {
			Object.defineProperties(this, {
				_via: {value: via},
				id: {value: id, enumerable: true},
				name: {value: name === undefined ? null : name, enumerable: true},
			});
		}

		/* e.source.postMessage(data, targetOrigin, transfer): from the
		 * window the reference came to. */
		postMessage(message, targetOrigin, transfer) {
			return this._via.postMessage(this, message, targetOrigin, transfer);
		}
	}

	class CrosspostWindow extends EventTarget {
		constructor(conn, info) {
			super();
			Object.defineProperties(this, {
				_conn: {value: conn},
				id: {value: info.id, enumerable: true},
				name: {value: info.name, enumerable: true},
				url: {value: info.url, enumerable: true},
				origin: {value: info.origin, enumerable: true},
			});
			this.closed = false;
			handlerProperty(this, 'message');
			handlerProperty(this, 'messageerror');
			handlerProperty(this, 'close');
		}

		_deliver(event) {
			if (!this.closed)
				this.dispatchEvent(event);
		}

		_closedByGateway(error) {
			if (this.closed)
				return;
			this.closed = true;
			const e = new Event('close');
			e.error = error;
			this.dispatchEvent(e);
		}

		/* postMessage(target, message, targetOrigin = "/", transfer = [])
		 * or postMessage(target, message, {targetOrigin, transfer}).
		 * target: a WindowRef (e.source, lookup()), a CrosspostWindow, a
		 * window id, or a name (looked up by the gateway at each post).
		 * Throws SyntaxError and DataCloneError as window.postMessage
		 * does; returns a promise that settles once the gateway has
		 * posted it (rejected with what the broker answered: an unknown
		 * name is NotFoundError).  Ignoring it is fine. */
		postMessage(target, message, targetOrigin, transfer) {
			if (targetOrigin !== null && typeof targetOrigin === 'object') {
				transfer = targetOrigin.transfer;
				targetOrigin = targetOrigin.targetOrigin;
			}
			targetOrigin = targetOrigin === undefined ? '/' : String(targetOrigin);
			if (this.closed)
				throw makeError('InvalidStateError', 'the window is closed');
			let to;
			if (target instanceof WindowRef || target instanceof CrosspostWindow)
				to = target.id;
			else if (typeof target === 'number' && Number.isInteger(target) && target > 0)
				to = target;
			else if (typeof target === 'string' && target !== '')
				to = target;
			else
				throw new TypeError('the target is a window reference, a window id or a name');
			if (targetOrigin !== '*' && targetOrigin !== '/') {
				try {
					new URL(targetOrigin);
				} catch (e) {
					throw makeError('SyntaxError', 'Invalid target origin \'' + targetOrigin +
						'\' in a call to \'postMessage\'.');
				}
			}
			const t = checkTransfer(this._conn, transfer, null);
			const data = encodeWithTransfer(message, t);
			const sent = this._conn.request({op: 'post', window: this.id, target: to, targetOrigin,
				transfer: t.ports.map(p => p._handle)}, data);
			completeTransfer(this._conn, t);
			return quiet(sent.then(() => undefined));
		}

		/* The live window named name, as a reference; with {wait: ms}
		 * waits (up to 10 s) for it to appear.  NotFoundError when none. */
		async lookup(name, options) {
			const wait = options && options.wait ? Number(options.wait) : 0;
			const m = await this._conn.request({op: 'lookup', name: String(name), wait});
			const ref = new WindowRef(this, m.id, m.name);
			Object.defineProperty(ref, 'origin', {value: m.origin, enumerable: true});
			return ref;
		}

		/* Closes the window at the broker: messages to it are dropped. */
		close() {
			if (this.closed)
				return Promise.resolve();
			this.closed = true;
			this._conn.windows.delete(this.id);
			return quiet(this._conn.request({op: 'close', window: this.id}).then(() => undefined));
		}
	}

	/* ---- MessageChannel and MessagePort ---- */

	class CrosspostPort extends EventTarget {
		constructor(conn, handle) {
			super();
			Object.defineProperties(this, {
				_conn: {value: conn},
				_handle: {value: handle},
				_queue: {value: []},
			});
			this._state = 'open';
			this._started = false;
			if (handle)
				conn.ports.set(handle, this);
			handlerProperty(this, 'message', () => this.start());
			handlerProperty(this, 'messageerror');
		}

		_deliver(event) {
			if (this._state !== 'open')
				return;
			if (!this._started) {
				this._queue.push(event);
				return;
			}
			this.dispatchEvent(event);
		}

		/* Dispatches the messages queued since the port arrived; setting
		 * onmessage starts the port too. */
		start() {
			if (this._started)
				return;
			this._started = true;
			queueMicrotask(() => {
				while (this._queue.length && this._state === 'open')
					this.dispatchEvent(this._queue.shift());
			});
		}

		/* postMessage(message, transfer) or postMessage(message, {transfer}). */
		postMessage(message, transfer) {
			if (transfer !== null && typeof transfer === 'object' && !Array.isArray(transfer) &&
			    typeof transfer[Symbol.iterator] !== 'function')
				transfer = transfer.transfer;
			if (this._state === 'transferred')
				return Promise.resolve();
			const t = checkTransfer(this._conn, transfer, this);
			const data = encodeWithTransfer(message, t);
			let sent;
			if (this._state === 'closed') {
				/* Posting on a closed port sends nothing; what it
				 * transfers is gone all the same. */
				sent = Promise.all(t.ports.map(p => this._conn.request({op: 'portclose', port: p._handle})));
			} else {
				sent = this._conn.request({op: 'portpost', port: this._handle,
					transfer: t.ports.map(p => p._handle)}, data);
			}
			completeTransfer(this._conn, t);
			return quiet(sent.then(() => undefined));
		}

		close() {
			if (this._state !== 'open')
				return;
			this._state = 'closed';
			this._queue.length = 0;
			this._conn.ports.delete(this._handle);
			if (this._handle && !this._conn.closed)
				quiet(this._conn.request({op: 'portclose', port: this._handle}));
		}
	}

	/* new crosspost.MessageChannel([window]): two entangled ports, made at
	 * once; the gateway creates them before it handles anything the page
	 * sends after.  The page must have a window open on that gateway. */
	class CrosspostMessageChannel {
		constructor(window) {
			let conn = window && window._conn;
			if (!conn)
				for (const c of connections.values())
					if (!c.closed && c.windows.size) {
						conn = c;
						break;
					}
			if (!conn || conn.closed || conn.windows.size === 0)
				throw makeError('InvalidStateError', 'crosspost.MessageChannel: open a window first');
			const port1 = new CrosspostPort(conn, conn.portHandle());
			const port2 = new CrosspostPort(conn, conn.portHandle());
			quiet(conn.request({op: 'channel', ports: [port1._handle, port2._handle]})).catch(e => {
				port1._state = port2._state = 'closed';
				console.warn('crosspost.MessageChannel:', e);
			});
			Object.defineProperties(this, {
				port1: {value: port1, enumerable: true},
				port2: {value: port2, enumerable: true},
			});
		}
	}

	/* crosspost.open({name, path, gateway, token}) -> a window of this
	 * page's origin (as the browser stated it to the gateway), at URL
	 * origin + path (default: location.pathname). */
	async function open(options) {
		options = options || {};
		const conn = await connect(options);
		const path = options.path !== undefined ? String(options.path) :
			global.location && location.pathname ? location.pathname : '/';
		const m = await conn.request({op: 'open', name: options.name === undefined ? null : options.name, path});
		const w = new CrosspostWindow(conn, m.window);
		conn.windows.set(w.id, w);
		return w;
	}

	global.crosspost = Object.freeze({
		open,
		MessageChannel: CrosspostMessageChannel,
		MessagePort: CrosspostPort,
		Window: CrosspostWindow,
		WindowRef,
		MessageEvent: CrosspostMessageEvent,
		/* The tagged JSON of docs/values.md: encode(value) -> text,
		 * decode(text) -> value (ports need a connection: not here). */
		encode: (value, options) => encode(value, options || null),
		decode: (text, options) => decode(JSON.parse(text), options || null),
	});
})(typeof globalThis !== 'undefined' ? globalThis : this);
