/* SPDX-License-Identifier: MIT */
/*
 * values.js - the JavaScript side of values.tsv: for each name there, a
 * function that makes the value whose canonical tagged JSON (as
 * cp_value_to_json() prints it) is on that line; and structuredEqual(), the
 * scenario format's structured equality (docs/values.md), shapes included.
 */
'use strict';

const VALUES = {
	'number': () => 1.5,
	'numbers': () => [NaN, Infinity, -Infinity, -0, 0, -2.5e-7, 123456789012345680000],
	'primitives': () => [undefined, null, true, false],
	'bigints': () => [123n, -98765432109876543210n, 0n],
	'strings': () => ['', 'héllo ✓ 😀', 'a\u0000b', 'quote" backslash\\ tab\t'],
	'lone-surrogate': () => 'x\ud800y',
	'wrappers': () => [new Boolean(false), new Number(-0), new String('s'), Object(5n)],
	'dates': () => [new Date(0), new Date(-86400000), new Date(NaN)],
	'regexp': () => /a+\/b/giu,
	'map-set': () => new Map([[1, 'one'], ['k', new Set([1, 'x', undefined])]]),
	'buffer': () => new Uint8Array([0, 1, 2, 255]).buffer,
	'typed': () => new Uint16Array([1, 65535]),
	'shared-views': () => {
		const buf = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]).buffer;
		return [new Uint8Array(buf, 2, 3), new DataView(buf), buf];
	},
	'sparse-array': () => {
		const a = [1, , 3];   // eslint-disable-line no-sparse-arrays
		a.length = 5;
		a.extra = 'x';
		return a;
	},
	'key-order': () => ({b: 1, 2: 'two', a: 2, 1: 'one'}),
	'dollar-key': () => ({$x: 1}),
	'proto-key': () => {
		const o = {};
		Object.defineProperty(o, '__proto__', {value: {polluted: true}, enumerable: true, writable: true,
			configurable: true});
		return o;
	},
	'errors': () => {
		const r = new RangeError('r'), m = new Error('m'), t = new TypeError();
		for (const e of [r, m, t])
			delete e.stack;
		return [r, m, t];
	},
	'cycle': () => {
		const o = {};
		o.self = o;
		return [o, o];
	},
	'nested': () => ({list: [1, {deep: [true, [[]]]}], empty: {}}),
};

/* Fetches values.tsv: [{name, json, make}] in file order. */
async function loadCatalogue() {
	const text = await (await fetch('/values.tsv', {cache: 'no-store'})).text();
	return text.split('\n').filter(line => line).map(line => {
		const tab = line.indexOf('\t');
		const name = line.slice(0, tab);
		if (!VALUES[name])
			throw new Error('values.js has no value named ' + name);
		return {name, json: line.slice(tab + 1), make: VALUES[name]};
	});
}

function kindOf(v) {
	if (v === null)
		return 'null';
	if (typeof v !== 'object')
		return typeof v;
	if (Array.isArray(v))
		return 'Array';
	if (ArrayBuffer.isView(v))
		return Object.prototype.toString.call(v).slice(8, -1);
	for (const [name, Ctor] of [['Map', Map], ['Set', Set], ['Date', Date], ['RegExp', RegExp],
		['ArrayBuffer', ArrayBuffer], ['Error', Error], ['Boolean', Boolean], ['Number', Number],
		['String', String], ['BigInt', BigInt]])
		if (v instanceof Ctor)
			return name;
	if (v instanceof crosspost.MessagePort)
		return 'MessagePort';
	return 'Object';
}

/* null when a and b are structurally equal (same types and contents, key
 * order, NaN equals NaN, 0 and -0 differ, holes differ from undefined, the
 * same shape of shared references and cycles); else where they differ. */
function structuredEqual(a, b) {
	const pairs = new Map(), back = new Map();

	function same(x, y, path) {
		const kx = kindOf(x), ky = kindOf(y);
		if (kx !== ky)
			return path + ': ' + kx + ' vs ' + ky;
		if (typeof x !== 'object' || x === null)
			return Object.is(x, y) ? null : path + ': ' + String(x) + ' vs ' + String(y);
		if (pairs.has(x) || back.has(y))
			return pairs.get(x) === y ? null : path + ': a different shape of shared references';
		pairs.set(x, y);
		back.set(y, x);
		const keys = o => Object.keys(o);
		const sameKeys = (p, o1, o2) => {
			const k1 = keys(o1), k2 = keys(o2);
			if (k1.join('\u0001') !== k2.join('\u0001'))
				return p + ': keys [' + k1 + '] vs [' + k2 + ']';
			for (const k of k1) {
				const d = same(o1[k], o2[k], p + '.' + k);
				if (d)
					return d;
			}
			return null;
		};
		switch (kx) {
		case 'Boolean': case 'Number': case 'String': case 'BigInt':
			return Object.is(x.valueOf(), y.valueOf()) ? null : path + ': wrapped values differ';
		case 'Date':
			return Object.is(x.getTime(), y.getTime()) ? null : path + ': dates differ';
		case 'RegExp':
			return x.source === y.source && x.flags === y.flags ? null : path + ': regexps differ';
		case 'ArrayBuffer': {
			const u = new Uint8Array(x), v = new Uint8Array(y);
			return u.length === v.length && u.every((c, i) => c === v[i]) ? null : path + ': bytes differ';
		}
		case 'Map': case 'Set': {
			const ex = [...x.entries()], ey = [...y.entries()];
			if (ex.length !== ey.length)
				return path + ': sizes differ';
			for (let i = 0; i < ex.length; i++) {
				const d = same(ex[i][0], ey[i][0], path + '[key ' + i + ']') ||
					same(ex[i][1], ey[i][1], path + '[value ' + i + ']');
				if (d)
					return d;
			}
			return null;
		}
		case 'Error':
			if (x.name !== y.name || x.message !== y.message ||
			    Object.prototype.hasOwnProperty.call(x, 'message') !==
			    Object.prototype.hasOwnProperty.call(y, 'message') ||
			    (typeof x.stack === 'string') !== (typeof y.stack === 'string'))
				return path + ': errors differ (' + x.name + ': ' + x.message + ' vs ' + y.name + ': ' +
					y.message + ')';
			return null;
		case 'Array':
			if (x.length !== y.length)
				return path + ': lengths ' + x.length + ' vs ' + y.length;
			return sameKeys(path, x, y);
		case 'Object':
			return sameKeys(path, x, y);
		case 'MessagePort':
			return null;
		default:
			if (ArrayBuffer.isView(x)) {
				if (x.byteOffset !== y.byteOffset || x.byteLength !== y.byteLength)
					return path + ': views differ';
				return same(x.buffer, y.buffer, path + '.buffer');
			}
			return path + ': cannot compare ' + kx;
		}
	}
	return same(a, b, 'value');
}
