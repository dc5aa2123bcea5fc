//! `huddle demo --live`: keeps the demo teacher's class in a sitting by sending simulated
//! answers (`sim::live`) through the real ingest endpoint of the running demo, as a tool would,
//! so the Now page moves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;

use crate::auth::{Claims, Keys, Role};
use crate::ingest::Event;
use crate::sim::district::District;
use crate::sim::live::LiveClass;

/// Starts the sender on its own thread; it runs as long as the process.
pub fn spawn(port: u16, secret: &SecretString, district: &District, class: usize) {
    let keys = Keys::new(secret);
    let claims = Claims::new(
        "demo-live-tool",
        Role::Tool,
        district.org.clone(),
        Duration::from_secs(30 * 24 * 3600),
    );
    let Ok(token) = keys.sign(&claims) else {
        return;
    };
    let class_id = district.classes[class].id.clone();
    let students: Vec<String> = district
        .students
        .iter()
        .filter(|p| p.class == class)
        .map(|p| p.student_id.clone())
        .collect();
    let skills: Vec<(String, String, String)> = (0..4).map(crate::sim::live::skill).collect();
    std::thread::Builder::new()
        .name("demo-live".into())
        .spawn(move || {
            let mut live = LiveClass::new(
                students.len(),
                skills.len(),
                2026,
                crate::db::to_millis(Utc::now()),
            );
            loop {
                let now = crate::db::to_millis(Utc::now());
                let events: Vec<Event> = live
                    .due(now)
                    .into_iter()
                    .map(|a| {
                        let (skill, name, tool) = &skills[a.skill % skills.len()];
                        Event {
                            event_id: uuid::Uuid::new_v4(),
                            occurred_at: crate::db::from_millis(a.at),
                            student_id: students[a.student].clone(),
                            class_id: class_id.clone(),
                            skill_id: skill.clone(),
                            item_id: format!("{skill}:{:03}", a.item),
                            outcome: a.outcome,
                            attempt: 1,
                            response_ms: Some(a.response_ms),
                            hints_used: a.hints_used,
                            hint_bottom_out: a.hint_bottom_out,
                            session_id: None,
                            skill_name: Some(name.clone()),
                            tool: Some(tool.clone()),
                            response: None,
                        }
                    })
                    .collect();
                if !events.is_empty() {
                    if let Err(e) = post(port, &token, &serde_json::json!({ "events": events })) {
                        tracing::warn!(error = %e, "the live demo could not send answers");
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .ok();
}

/// One `POST /api/v1/events` to the local server (HTTP/1.1, connection closed after).
fn post(port: u16, token: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    let body = body.to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    anyhow::ensure!(
        answer.starts_with("HTTP/1.1 200"),
        "the server answered {}",
        answer.lines().next().unwrap_or("nothing")
    );
    Ok(())
}
