# The edge in front of the badge instances. Shared by compose.yaml and the loopback
# deployment test (tests/test_deploy.py); only site.vcl differs between them: the backends, the
# director filled in vcl_init, and the ACL of hosts allowed to purge.
vcl 4.1;

import directors;
import std;
import xkey;

include "site.vcl";

sub vcl_recv {
    # Varnish's own liveness, for compose's health check; says nothing of the instances.
    if (req.url == "/varnish-health") {
        return (synth(200, "ok"));
    }
    # Purges by surrogate key, sent by every instance on every state change (badge.platform.purge).
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "purging is not allowed from here"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "name the surrogate keys in xkey-purge"));
        }
        set req.http.n-gone = xkey.purge(req.http.xkey-purge);
        std.log("purged " + req.http.xkey-purge + ": " + req.http.n-gone + " objects");
        return (synth(200, "purged " + req.http.n-gone + " objects"));
    }
    set req.backend_hint = app.backend();
    # The service sets no cookies and reads none: never forward them, never key on them.
    unset req.http.Cookie;
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization || req.url ~ "^/admin/") {
        return (pass);
    }
    set req.url = std.querysort(req.url);
    # A badge depends on the Referer's host (registered domain, foreign, none), never on the
    # rest of it. Key on the host, and send the backend just that, so what it answers for the
    # first request is right for every request sharing the key.
    if (req.url ~ "^/b/") {
        if (!req.http.Referer) {
            set req.http.X-Referer-Host = "none";
        } elsif (req.http.Referer ~ "^(?i)https?://[a-z0-9.-]+(:[0-9]*)?(?:[/?#]|$)") {
            set req.http.X-Referer-Host = std.tolower(regsub(req.http.Referer,
                "^(?i)https?://([a-z0-9.-]+?)\.?(?::[0-9]*)?(?:[/?#].*)?$", "\1"));
            set req.http.Referer = "https://" + req.http.X-Referer-Host + "/";
        } else {
            # Anything odd (user info, an IPv6 literal, another scheme) is keyed on and
            # passed on as sent: the service decides, and the object is never shared.
            set req.http.X-Referer-Host = "raw:" + req.http.Referer;
        }
    }
    return (hash);
}

sub vcl_hash {
    hash_data(req.url);
    if (req.http.host) {
        hash_data(req.http.host);
    } else {
        hash_data(server.ip);
    }
    if (req.http.X-Referer-Host) {
        hash_data(req.http.X-Referer-Host);
    }
    return (lookup);
}

sub vcl_backend_fetch {
    unset bereq.http.X-Referer-Host;
}

sub vcl_backend_response {
    # A 5xx from an instance that is going away: ask another one (bounded).
    if (beresp.status >= 500 && bereq.retries < 2 && bereq.method ~ "^(GET|HEAD)$") {
        return (retry);
    }
    # Responses about one shop that carry no surrogate key (a 404 for an id that does not
    # exist yet) are tagged from the URL, so creating that shop purges them too.
    if (!beresp.http.xkey && bereq.url ~ "^/(b|v|embed|api/v1/shops)/[a-z2-9]{16}([./?]|$)") {
        set beresp.http.xkey = "shop-" + regsub(bereq.url,
            "^/(?:b|v|embed|api/v1/shops)/([a-z2-9]{16}).*$", "\1") + " keurmerk";
    }
    # Our responses are small (a badge is a few KB, a page tens of KB): take each one whole
    # before passing it on, so an instance that dies mid-body never reaches a client as a
    # truncated response.
    set beresp.do_stream = false;
    if (beresp.http.Set-Cookie) {
        set beresp.uncacheable = true;
        return (deliver);
    }
    # The TTL comes from the service's max-age; the grace (served stale while refetching)
    # from its stale-while-revalidate, and no longer. Keeping the object a little longer
    # lets Varnish revalidate it with If-None-Match; the service answers 304 with the same
    # strong ETag.
    if (beresp.http.Cache-Control ~ "stale-while-revalidate=[0-9]+") {
        set beresp.grace = std.duration(regsub(beresp.http.Cache-Control,
            "^.*stale-while-revalidate=([0-9]+).*$", "\1") + "s", 0s);
    } else {
        set beresp.grace = 0s;
    }
    if (beresp.http.ETag) {
        set beresp.keep = 5m;
    }
}

sub vcl_backend_error {
    # Connection refused or reset (an instance killed or restarting): try another instance.
    if (bereq.retries < 3) {
        return (retry);
    }
}

sub vcl_deliver {
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    unset resp.http.Cache-Tag;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
