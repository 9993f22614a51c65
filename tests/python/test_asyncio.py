# SPDX-License-Identifier: MIT
"""The asyncio integration: loop.add_reader on the client's fd, `async for`
over events, handlers run by the loop, waiting for a window without
blocking the loop, batching flushed by the loop, events a blocking call
buffered, and a lost connection waking the waiters."""
import asyncio
import unittest

import support
import crosspost as cp


class Asyncio(support.BrokerTestCase):
    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 20))

    def test_async_for_over_events(self):
        a, b = self.client(), self.client()
        wa, wb = a.open("https://a.example/"), b.open("https://b.example/")

        async def main():
            async def sender():
                for i in range(5):
                    wa.post_message(wb, i, "*")
                    await asyncio.sleep(0)
            task = asyncio.ensure_future(sender())
            got = []
            async for ev in wb.events():
                got.append(ev.data)
                if len(got) == 5:
                    break
            await task
            return got
        self.assertEqual(self.run_async(main()), [0, 1, 2, 3, 4])

    def test_get_event_async_times_out(self):
        w = self.client().open("https://a.example/")

        async def main():
            with self.assertRaises(cp.TimeoutError_):
                await w.get_event_async(timeout=0.05)
            with self.assertRaises(TimeoutError):
                await w.get_event_async(timeout=0)
        self.run_async(main())

    def test_handlers_run_from_the_loop(self):
        a, b = self.client(), self.client()
        wa, wb = a.open("https://a.example/"), b.open("https://b.example/")

        async def main():
            b.attach()
            done = asyncio.get_running_loop().create_future()
            wb.onmessage = lambda ev: done.set_result((ev.data, ev.origin))
            wa.post_message(wb, "to the handler", "*")
            return await done
        self.assertEqual(self.run_async(main()), ("to the handler", "https://a.example"))
        # that loop is closed now; the client works without it, and with the next one
        wb.onmessage = None
        wa.post_message(wb, "after the loop", "*")
        self.assertEqual(wb.get_event(timeout=5).data, "after the loop")

        async def again():
            wa.post_message(wb, "in a new loop", "*")
            return (await wb.get_event_async(timeout=5)).data
        self.assertEqual(self.run_async(again()), "in a new loop")

    def test_wait_for_window_async_does_not_block_the_loop(self):
        a, b = self.client(), self.client()
        name = self.name()

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)
            t = asyncio.ensure_future(ticker())
            asyncio.get_running_loop().call_later(0.1, lambda: b.open("https://late.example/", name))
            ref = await a.wait_for_window_async(name, timeout=10)
            t.cancel()
            with self.assertRaises(cp.TimeoutError_):
                await a.wait_for_window_async(self.name(), timeout=0.02)
            return ref, ticks
        ref, ticks = self.run_async(main())
        self.assertEqual(ref.name, name)
        self.assertGreater(ticks, 5)

    def test_batching_is_flushed_by_the_loop(self):
        a, b = self.client(batching=True), self.client()
        wa, wb = a.open("https://a.example/"), b.open("https://b.example/")

        async def main():
            a.attach()
            for i in range(50):
                wa.post_message(wb, i, "*")
            # no flush(): the loop's next turn writes them
            return [(await wb.get_event_async(timeout=5)).data for _ in range(50)]
        self.assertEqual(self.run_async(main()), list(range(50)))

    def test_events_a_blocking_call_buffered_are_dispatched(self):
        a, b = self.client(), self.client()
        wa, wb = a.open("https://a.example/"), b.open("https://b.example/", self.name())

        async def main():
            b.attach()
            wa.post_message(wb, "read during a lookup", "*")
            a.sync(5)
            b.lookup(wb.name)          # a round trip: reads the event, queues it in the library
            return (await wb.get_event_async(timeout=5)).data
        self.assertEqual(self.run_async(main()), "read during a lookup")

    def test_ports_in_asyncio(self):
        w = self.client().open("https://a.example/")
        p1, p2 = w.create_channel()

        async def main():
            p1.post_message("one")
            p1.post_message("two")
            got = []
            async for ev in p2.events():
                got.append(ev.data)
                if len(got) == 2:
                    return got
        self.assertEqual(self.run_async(main()), ["one", "two"])

    def test_a_lost_connection_wakes_the_waiters(self):
        broker = support.Broker()
        c = cp.Client(broker.socket)
        self.addCleanup(c.close)
        w = c.open("https://a.example/")

        async def main():
            waiter = asyncio.ensure_future(w.get_event_async())
            await asyncio.sleep(0)
            broker.stop()
            with self.assertRaises(cp.NetworkError):
                await waiter
            with self.assertRaises(cp.NetworkError):
                await w.get_event_async()
        try:
            self.run_async(main())
        finally:
            broker.stop()


if __name__ == "__main__":
    unittest.main()
