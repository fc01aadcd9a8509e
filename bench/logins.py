#!/usr/bin/env python3
# Drive logins at a fixed rate for a fixed time against hcs, and report how
# many were answered and their p50/p99 latency. Used beside `hcs-bench --mode
# list` to see whether a burst of logins against hashed users slows the
# patients who are booking (issue 5):
#   bench/logins.py PORT RATE SECONDS FIRST_USER COUNT
# logs in as user<FIRST_USER>..user<FIRST_USER+COUNT-1> with passwords pw<i>
# (the users files hcs-bench --mode gen writes).
import asyncio, sys, time
port, rate, secs, first, count = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lat = []; errs = 0
async def one(i):
    global errs
    t = time.perf_counter()
    try:
        r, w = await asyncio.open_connection('127.0.0.1', port)
        u = first + (i % count)
        w.write(f"authenticate user{u} pw{u}\n".encode()); await w.drain()
        line = await asyncio.wait_for(r.readline(), 10)
        if line != b"success\n":
            errs += 1
            if errs < 3: print("reply:", line)
        lat.append(time.perf_counter() - t); w.close()
    except Exception as e:
        errs += 1
        if errs < 3: print("error:", repr(e))
async def main():
    tasks = []; t0 = time.perf_counter(); i = 0
    while time.perf_counter() - t0 < secs:
        tasks.append(asyncio.create_task(one(i))); i += 1
        await asyncio.sleep(max(0, t0 + i / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    lat.sort(); el = time.perf_counter() - t0
    print(f"logins {len(lat)} in {el:.1f}s = {len(lat)/el:.0f}/s errors {errs} p50 {lat[len(lat)//2]*1000:.1f}ms p99 {lat[int(len(lat)*.99)]*1000:.1f}ms")
asyncio.run(main())
