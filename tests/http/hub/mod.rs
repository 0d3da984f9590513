//! `from hub(...)`: one suite of specifications, run against every transport: the in-process
//! one, and (with the `redis` feature) Redis streams on a `redis-server` the test starts.

mod backend;
mod suite;

pub use backend::Backend;

/// Runs each named test of `suite` once per transport, as `memory::<name>` and `redis::<name>`.
macro_rules! against_every_transport {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::suite::$test(super::Backend::memory()).await;
                }
            )*
        }

        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::suite::$test(super::Backend::redis().await).await;
                }
            )*
        }
    };
}

against_every_transport![
    fan_out_to_100_clients_delivers_every_event_in_order,
    a_reconnect_inside_the_buffer_receives_exactly_the_missed_events,
    a_new_client_learns_its_position_first_so_a_cut_before_any_event_resumes_exactly,
    a_reconnect_behind_the_buffer_gets_a_reset_event_then_live_events,
    a_foreign_or_malformed_last_event_id_is_treated_as_absent,
    path_parameters_select_the_topic,
    a_stalled_client_is_skipped_forward_while_others_keep_up,
    a_stalled_client_is_disconnected_under_on_lag_disconnect,
    on_lag_disconnect_sends_what_was_gathered_first_so_the_resume_starts_there,
    max_clients_answers_503_with_retry_after_until_a_place_frees,
    hub_events_keep_their_published_names,
    shutdown_sends_every_hub_stream_its_close_event_and_runs_on_close,
];
