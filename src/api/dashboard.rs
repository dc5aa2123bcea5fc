use actix_web::HttpResponse;

/// The dashboard's entry page, built into the binary.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../dashboard-ui/index.html"))
}
