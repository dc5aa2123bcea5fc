//! Diesel's view of the tables (see `migrations/`; kept by hand, checked by the migration tests).

diesel::table! {
    orgs (org_id) {
        org_id -> Text,
        name -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    schools (org_id, school_id) {
        org_id -> Text,
        school_id -> Text,
        name -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    classes (org_id, class_id) {
        org_id -> Text,
        class_id -> Text,
        school_id -> Nullable<Text>,
        name -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    students (org_id, student_id) {
        org_id -> Text,
        student_id -> Text,
        name -> Nullable<Text>,
        created_at -> BigInt,
        group_label -> Nullable<Text>,
    }
}

diesel::table! {
    users (user_id) {
        user_id -> Text,
        org_id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        role -> Text,
        password_hash -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    class_teachers (org_id, class_id, user_id) {
        org_id -> Text,
        class_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    enrolments (org_id, class_id, student_id) {
        org_id -> Text,
        class_id -> Text,
        student_id -> Text,
        source -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    skills (org_id, skill_id) {
        org_id -> Text,
        skill_id -> Text,
        name -> Nullable<Text>,
        domain -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    items (org_id, item_id) {
        org_id -> Text,
        item_id -> Text,
        skill_id -> Text,
        created_at -> BigInt,
        prompt -> Nullable<Text>,
        answer -> Nullable<Text>,
        described_by -> Nullable<Text>,
        described_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        event_id -> Binary,
        org_id -> Text,
        class_id -> Text,
        student_id -> Text,
        skill_id -> Text,
        item_id -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        outcome -> Text,
        attempt -> Integer,
        response_ms -> Nullable<Integer>,
        hints_used -> Integer,
        hint_bottom_out -> Bool,
        session_id -> Nullable<Text>,
        skill_name -> Nullable<Text>,
        tool -> Nullable<Text>,
        response -> Nullable<Text>,
    }
}

// SQLite only: which event ids are stored (store::event_ids); PostgreSQL has a unique index.
diesel::table! {
    event_ids (run, event_id) {
        run -> BigInt,
        event_id -> Binary,
        seq -> BigInt,
    }
}

diesel::table! {
    event_id_runs (run) {
        run -> BigInt,
    }
}

diesel::table! {
    event_id_merges (id) {
        id -> Integer,
        merged_through -> BigInt,
    }
}

diesel::table! {
    skill_models (org_id, skill_id) {
        org_id -> Text,
        skill_id -> Text,
        model -> Text,
        fitted_at -> Nullable<BigInt>,
        students -> Integer,
        rows -> Integer,
        log_likelihood -> Nullable<Double>,
        accuracy -> Nullable<Text>,
    }
}

diesel::table! {
    skill_states (org_id, student_id, skill_id) {
        org_id -> Text,
        student_id -> Text,
        skill_id -> Text,
        state -> Text,
        last_occurred_at -> BigInt,
        last_seq -> BigInt,
        session_start -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    student_items (org_id, student_id, skill_id, item_id) {
        org_id -> Text,
        student_id -> Text,
        skill_id -> Text,
        item_id -> Text,
        first_occurred_at -> BigInt,
    }
}

diesel::table! {
    item_norms (org_id, skill_id, item_id) {
        org_id -> Text,
        skill_id -> Text,
        item_id -> Text,
        responses -> Integer,
        sum_log_ms -> Double,
        updated_at -> BigInt,
    }
}

diesel::table! {
    login_failures (throttle_key) {
        throttle_key -> Text,
        failures -> Integer,
        first_failed -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    student_signals (org_id, student_id) {
        org_id -> Text,
        student_id -> Text,
        state -> Text,
        last_occurred_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        org_id -> Text,
        at -> BigInt,
        actor_sub -> Text,
        actor_role -> Text,
        action -> Text,
        subject_kind -> Text,
        subject_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    flags (org_id, student_id, kind, skill_id, started_at) {
        org_id -> Text,
        student_id -> Text,
        kind -> Text,
        skill_id -> Text,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        evidence -> Text,
        sentence -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    review_decisions (decision_id) {
        decision_id -> Text,
        org_id -> Text,
        student_id -> Text,
        skill_id -> Text,
        kind -> Text,
        decision -> Text,
        note -> Nullable<Text>,
        evidence_marker -> BigInt,
        decided_by -> Text,
        decided_at -> BigInt,
        insight_id -> Nullable<Text>,
    }
}

diesel::table! {
    retention_marks (org_id) {
        org_id -> Text,
        purged_before -> BigInt,
        purged_at -> BigInt,
    }
}

diesel::table! {
    group_plans (plan_id) {
        plan_id -> Text,
        org_id -> Text,
        class_id -> Text,
        focus_skill_id -> Text,
        students -> Text,
        note -> Nullable<Text>,
        source_group -> Nullable<Text>,
        done -> Bool,
        done_at -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    report_activity (org_id, week_start, class_id, student_id) {
        org_id -> Text,
        week_start -> BigInt,
        class_id -> Text,
        student_id -> Text,
        events -> BigInt,
        timed_events -> BigInt,
        practice_ms -> BigInt,
        first_at -> BigInt,
        last_at -> BigInt,
    }
}

diesel::table! {
    prediction_bins (org_id, skill_id, day, model_at, bin) {
        org_id -> Text,
        skill_id -> Text,
        day -> Integer,
        model_at -> BigInt,
        bin -> Integer,
        correct -> BigInt,
        wrong -> BigInt,
        sum_pred -> Double,
        sum_sq_err -> Double,
    }
}

diesel::table! {
    student_predictions (org_id, student_id, bin) {
        org_id -> Text,
        student_id -> Text,
        bin -> Integer,
        correct -> BigInt,
        wrong -> BigInt,
        sum_pred -> Double,
        sum_sq_err -> Double,
    }
}

diesel::table! {
    report_tool_days (org_id, day, tool) {
        org_id -> Text,
        day -> BigInt,
        tool -> Text,
        received -> BigInt,
        duplicates -> BigInt,
        late -> BigInt,
        max_late_ms -> BigInt,
        future -> BigInt,
        max_future_ms -> BigInt,
        sum_future_ms -> BigInt,
        without_time -> BigInt,
    }
}

diesel::table! {
    report_rejections (org_id, day, tool, code) {
        org_id -> Text,
        day -> BigInt,
        tool -> Text,
        code -> Text,
        events -> BigInt,
    }
}

diesel::table! {
    refit_jobs (job_id) {
        job_id -> Text,
        org_id -> Text,
        status -> Text,
        phase -> Text,
        skills_done -> Integer,
        skills_total -> Integer,
        students_done -> Integer,
        students_total -> Integer,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        requested_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    job_runs (org_id, run_id) {
        org_id -> Text,
        run_id -> Text,
        job -> Text,
        node -> Text,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        result -> Nullable<Text>,
    }
}

diesel::table! {
    checkins (checkin_id) {
        checkin_id -> Text,
        org_id -> Text,
        class_id -> Text,
        student_id -> Text,
        skill_id -> Nullable<Text>,
        note -> Nullable<Text>,
        checked_by -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    refit_pending (org_id) {
        org_id -> Text,
        since -> BigInt,
    }
}

diesel::joinable!(class_teachers -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    schools,
    classes,
    students,
    users,
    class_teachers,
    enrolments,
    skills,
    items,
    events,
    event_ids,
    event_id_runs,
    event_id_merges,
    skill_models,
    skill_states,
    student_items,
    item_norms,
    student_signals,
    flags,
    login_failures,
    audit_log,
    retention_marks,
    review_decisions,
    group_plans,
    report_activity,
    report_tool_days,
    report_rejections,
    prediction_bins,
    student_predictions,
    refit_jobs,
    refit_pending,
    checkins,
);
