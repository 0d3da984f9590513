//! A resumable `from` stream, and hooks that see the route's parameters and the `with` value.

use warp_eventstream::event_stream;

fn lines(job: u32, after: u64) -> impl futures::Stream<Item = String> {
    futures::stream::iter((after + 1..=10).map(move |n| format!("job {job} line {n}")))
}

fn main() {
    let _endpoint = event_stream! {
        route "/jobs" / job: u32 / "log"
        with user = warp::header::<String>("x-user")
        from |last| lines(job, last.unwrap_or(0))
        on_open { println!("{user} follows job {job}") }
        on_close |n| { println!("{user} left job {job} at line {n}") }
        => text |line| line
    };
}
