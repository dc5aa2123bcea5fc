//! The dashboard: the files of `dashboard-ui/`, built into the binary (plain HTML, CSS and
//! JavaScript modules; nothing to build, nothing fetched from elsewhere).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::ErrorBody;

#[derive(RustEmbed)]
#[folder = "dashboard-ui/"]
struct Files;

/// The entry page. Never cached, so a new release's scripts are picked up at once.
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// `/ui/{path}`: scripts, styles and icons.
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    serve(&req, &path)
}

/// Browsers revalidate every file (`no-cache`) and get a bodiless 304 while its ETag holds.
fn serve(req: &HttpRequest, path: &str) -> HttpResponse {
    match Files::get(path) {
        Some(file) => {
            let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..8]));
            let unchanged = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes());
            if unchanged {
                return HttpResponse::NotModified()
                    .insert_header((header::ETAG, etag))
                    .finish();
            }
            HttpResponse::Ok()
                .content_type(file.metadata.mimetype())
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header((header::ETAG, etag))
                .body(file.data.into_owned())
        }
        None => HttpResponse::NotFound().json(ErrorBody::new(
            "not_found",
            "there is no such file in the dashboard",
        )),
    }
}

use crate::util::hex;
