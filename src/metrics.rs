//! Prometheus metrics (`GET /metrics`, behind the operators' token `--metrics-token`): requests
//! by route pattern and status with their latency, events accepted, duplicate and rejected by
//! code, requests in flight, the writer's queue, background refits with their durations,
//! whether this node leads, and open live streams. One registry for the process; the labels
//! hold route patterns and codes, never ids.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    pub http_in_flight: IntGauge,
    pub events: IntCounterVec,
    pub refit_runs: IntCounterVec,
    pub refit_seconds: Histogram,
    pub sign_in_failures: IntCounter,
    pub writer_queue: IntGauge,
    pub leader: IntGauge,
    pub live_streams: IntGauge,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new().expect("the metrics' names are valid"))
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("huddle".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from a request's arrival to its answer, by route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )?;
        let http_in_flight =
            IntGauge::new("http_requests_in_flight", "Requests being handled now")?;
        let events = IntCounterVec::new(
            Opts::new(
                "events_total",
                "Practice events by what became of them (accepted, duplicate, rejected) and the rejection's code",
            ),
            &["result", "code"],
        )?;
        let refit_runs = IntCounterVec::new(
            Opts::new(
                "refit_runs_total",
                "Background refits of the models, by result",
            ),
            &["result"],
        )?;
        let refit_seconds = Histogram::with_opts(
            HistogramOpts::new("refit_duration_seconds", "How long a background refit took")
                .buckets(vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]),
        )?;
        let sign_in_failures = IntCounter::new(
            "sign_in_failures_total",
            "Sign-ins refused: wrong credentials",
        )?;
        let writer_queue = IntGauge::new(
            "writer_queue_depth",
            "Database writes waiting for the writer or being written (SQLite: one writer; PostgreSQL: the pool)",
        )?;
        let leader = IntGauge::new(
            "leader",
            "1 while this node leads (runs the background jobs), else 0",
        )?;
        let live_streams = IntGauge::new("live_streams", "Live (Now) streams open on this node")?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_seconds.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(refit_runs.clone()))?;
        registry.register(Box::new(refit_seconds.clone()))?;
        registry.register(Box::new(sign_in_failures.clone()))?;
        registry.register(Box::new(writer_queue.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(live_streams.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_seconds,
            http_in_flight,
            events,
            refit_runs,
            refit_seconds,
            sign_in_failures,
            writer_queue,
            leader,
            live_streams,
        })
    }

    /// The exposition text (Prometheus' text format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "the metrics could not be written");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Counts a batch's outcome.
    pub fn batch(&self, accepted: usize, duplicates: usize, rejected: &[&str]) {
        let add = |result: &str, code: &str, n: usize| {
            if n > 0 {
                self.events
                    .with_label_values(&[result, code])
                    .inc_by(n as u64);
            }
        };
        add("accepted", "", accepted);
        add("duplicate", "", duplicates);
        let mut codes: Vec<&str> = rejected.to_vec();
        codes.sort_unstable();
        for chunk in codes.chunk_by(|a, b| a == b) {
            add("rejected", chunk[0], chunk.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_counted_by_result_and_code() {
        let m = Metrics::new().unwrap();
        m.batch(
            3,
            1,
            &["invalid_outcome", "missing_field", "invalid_outcome"],
        );
        let text = m.render();
        assert!(
            text.contains("huddle_events_total{code=\"\",result=\"accepted\"} 3"),
            "{text}"
        );
        assert!(text.contains("huddle_events_total{code=\"\",result=\"duplicate\"} 1"));
        assert!(
            text.contains("huddle_events_total{code=\"invalid_outcome\",result=\"rejected\"} 2")
        );
        assert!(text.contains("huddle_events_total{code=\"missing_field\",result=\"rejected\"} 1"));
    }
}
