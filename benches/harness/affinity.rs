//! Pinning: the server and the load generator on separate cores (`--server-cpus 0,1
//! --client-cpus 2-15`), so that a figure measures the server and not the two sharing cores.
//!
//! The load generator pins itself before it starts its runtime (threads inherit the mask); each
//! server child is told its CPUs through [`SERVER_CPUS`] and pins itself the same way.

use std::io;

/// The environment variable that carries a server child's CPU list.
pub const SERVER_CPUS: &str = "SSE_BENCH_SERVER_CPUS";

/// Reads a CPU list: `0,1`, `2-15`, or both mixed (`0,2-3`).
pub fn parse(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|part| !part.is_empty()) {
        let bad = || format!("{part:?} in CPU list {list:?} is not a CPU or a range");
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last): (usize, usize) = (
                    first.parse().map_err(|_| bad())?,
                    last.parse().map_err(|_| bad())?,
                );
                if first > last {
                    return Err(bad());
                }
                cpus.extend(first..=last);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err(format!("CPU list {list:?} names no CPU"));
    }
    Ok(cpus)
}

/// Restricts the calling thread, and the threads it starts from now on, to `cpus`.
pub fn pin(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data; CPU_ZERO/CPU_SET only write inside it, and
    // `sched_setaffinity` reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(io::Error::other(format!("CPU {cpu} is out of range")));
            }
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs this process may run on now.
pub fn current() -> Vec<usize> {
    // SAFETY: as in `pin`; `sched_getaffinity` writes at most the size given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}
