"""Event handlers and background jobs of the federation package: the one place the layers are wired."""

from server.floor.events import subscribe


def register() -> None:
    """Subscribe this package's handlers to the domain events and declare its jobs."""
    # The inbox and delivery jobs are declared (@job) when their modules are imported.
    from federation.entry import handlers, inbox  # noqa: F401
    from federation.flows import announce, bridge, cohorts, forks, graph_out, relay, reports, status_out
    from federation.transport import delivery  # noqa: F401

    handlers.load()
    subscribe("course.published", announce.on_course_published)
    subscribe("run.created", announce.on_run_created)
    subscribe("course.forked", forks.on_course_forked)
    subscribe("unit.due_for_actor", bridge.on_unit_due)
    subscribe("post.created", relay.on_post_created)
    subscribe("post.updated", relay.on_post_updated)
    subscribe("post.deleted", relay.on_post_deleted)
    subscribe("enrollment.requested", cohorts.on_enrollment_requested)
    subscribe("profile.suspended", reports.on_profile_suspended)
    subscribe("profile.unsuspended", reports.on_profile_unsuspended)
    subscribe("domain_block.created", reports.on_domain_block_created)
    subscribe("domain_block.deleted", reports.on_domain_block_deleted)
    # People and their statuses (community's events; only a local person's acts are sent).
    subscribe("status.created", status_out.on_status_created)
    subscribe("status.updated", status_out.on_status_updated)
    subscribe("status.deleted", status_out.on_status_deleted)
    subscribe("favourite.created", status_out.on_favourite_created)
    subscribe("favourite.deleted", status_out.on_favourite_deleted)
    subscribe("follow.created", graph_out.on_follow_created)
    subscribe("follow.accepted", graph_out.on_follow_accepted)
    subscribe("follow.rejected", graph_out.on_follow_rejected)
    subscribe("follow.deleted", graph_out.on_follow_deleted)
    subscribe("block.created", graph_out.on_block_created)
    subscribe("block.deleted", graph_out.on_block_deleted)
    subscribe("profile.updated", graph_out.on_profile_updated)
    subscribe("profile.moved", graph_out.on_profile_moved)
    subscribe("report.created", graph_out.on_report_created)
