/* SPDX-License-Identifier: MIT */
/*
 * harness.js - how the test pages report: every check is a message to the
 * native window "results" (a `crosspost listen` of the test script), "ok
 * PAGE: NAME" or "fail PAGE: NAME: WHY", and the last one is "done PAGE N"
 * with N the number of checks that passed.  Messages to the page's window
 * wait in an inbox until the script asks for the next one.
 */
'use strict';

const TOKEN = new URLSearchParams(location.search).get('token');
const PORT = location.port;
const ORIGIN_A = `http://a.test:${PORT}`;
const ORIGIN_B = `http://b.test:${PORT}`;

function timeout(promise, what, ms = 20000) {
	let timer;
	return Promise.race([promise, new Promise((resolve, reject) => {
		timer = setTimeout(() => reject(new Error('timed out waiting for ' + what)), ms);
	})]).finally(() => clearTimeout(timer));
}

class Harness {
	constructor(w, label) {
		this.w = w;
		this.label = label;
		this.inbox = [];
		this.waiters = [];
		this.passed = 0;
		w.addEventListener('message', e => this.waiters.length ? this.waiters.shift()(e) : this.inbox.push(e));
	}

	next(what) {
		if (this.inbox.length)
			return Promise.resolve(this.inbox.shift());
		return timeout(new Promise(resolve => this.waiters.push(resolve)), what);
	}

	say(text) {
		return this.w.postMessage('results', text, '*');
	}

	/* check(name, true | null) passes; false or a string (why) fails. */
	check(name, result, why) {
		if (result === true || result === null) {
			this.passed++;
			return this.say('ok ' + this.label + ': ' + name);
		}
		return this.say('fail ' + this.label + ': ' + name + ': ' + (typeof result === 'string' ? result : why));
	}

	async throws(name, errorName, fn) {
		try {
			await fn();
		} catch (e) {
			return this.check(name, e && e.name === errorName, 'threw ' + (e && e.name) + ': ' + (e && e.message));
		}
		return this.check(name, false, 'did not throw');
	}

	done() {
		return this.say('done ' + this.label + ' ' + this.passed);
	}

	/* Runs body(harness) after opening the page's window; reports an
	 * exception as a failure, and always says done. */
	static async run(label, options, body) {
		let h = null;
		try {
			const w = await crosspost.open(Object.assign({token: TOKEN}, options));
			h = new Harness(w, label);
			await body(h, w);
		} catch (e) {
			if (!h)
				throw e;
			await h.check('no exception', false, (e && e.stack) || String(e));
		}
		await h.done();
	}
}
