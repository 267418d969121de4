# The edge in front of the badge instances. Shared by compose.yaml and the loopback
# deployment test (tests/test_deploy.py); only site.vcl differs between them: the backends, the
# director filled in vcl_init, and the ACL of hosts allowed to purge.
vcl 4.1;

import directors;
import std;
import xkey;

include "site.vcl";

# Headers some frameworks read to rebuild the request's URL, host or scheme, and cookies
# (the service sets none and reads none). The cache key ignores them, so nothing behind the
# edge may see them: one request carrying one must not change what the next visitor gets.
# They are taken off what goes to an instance (misses and passes); a hit never reads them.
sub strip_unkeyed {
    unset bereq.http.X-Forwarded-Host;
    unset bereq.http.X-Forwarded-Proto;
    unset bereq.http.X-Forwarded-Scheme;
    unset bereq.http.X-Forwarded-Port;
    unset bereq.http.X-Forwarded-Server;
    unset bereq.http.X-Forwarded-Prefix;
    unset bereq.http.X-Original-URL;
    unset bereq.http.X-Rewrite-URL;
    unset bereq.http.X-Original-Host;
    unset bereq.http.X-Host;
    unset bereq.http.X-HTTP-Method-Override;
    unset bereq.http.Forwarded;
    unset bereq.http.Cookie;
}

# The edge hashes the Host, so it is put in one form: lower case, no port, no trailing dot.
# Browsers send it so already; only another form is rewritten.
sub normalise_host {
    if (req.http.Host ~ "[A-Z:]|\.$") {
        set req.http.Host = std.tolower(regsub(req.http.Host, "\.?(:[0-9]*)?$", ""));
    }
}

# The service prepares each badge as br, gzip and identity, and picks br, else gzip, else
# none (badge/platform/http.py). Varnish's own gzip handling is off (deploy/varnish/varnishd.params),
# so it stores what the service sends, one object per coding (Vary: Accept-Encoding): the
# header is cut down to the one coding the service would pick, so the few browser spellings
# share three objects. A coding is accepted unless its q is 0; `*` stands for the unnamed.
sub normalise_coding {
    # What current browsers send, compared as strings: no regex on most requests.
    if (req.http.Accept-Encoding == "gzip, deflate, br, zstd"
        || req.http.Accept-Encoding == "gzip, deflate, br") {
        set req.http.Accept-Encoding = "br";
        return;
    }
    if (!req.http.Accept-Encoding) {
        return;
    }
    if (req.http.Accept-Encoding ~ "(?i)(^|,)\s*br\s*(;\s*q\s*=\s*(1|0*[1-9]|0*\.0*[1-9])[^,]*)?\s*(,|$)"
        || (req.http.Accept-Encoding ~ "(?i)(^|,)\s*\*\s*(;\s*q\s*=\s*(1|0*[1-9]|0*\.0*[1-9])[^,]*)?\s*(,|$)"
            && req.http.Accept-Encoding !~ "(?i)(^|,)\s*br\s*(;|,|$)")) {
        set req.http.Accept-Encoding = "br";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*(x-)?gzip\s*(;\s*q\s*=\s*(1|0*[1-9]|0*\.0*[1-9])[^,]*)?\s*(,|$)"
        || (req.http.Accept-Encoding ~ "(?i)(^|,)\s*\*\s*(;\s*q\s*=\s*(1|0*[1-9]|0*\.0*[1-9])[^,]*)?\s*(,|$)"
            && req.http.Accept-Encoding !~ "(?i)(^|,)\s*(x-)?gzip\s*(;|,|$)")) {
        set req.http.Accept-Encoding = "gzip";
    } else {
        unset req.http.Accept-Encoding;
    }
}

# Any URL but the embed's own badge URL: admin is never cached, a fragment is dropped, and a
# badge query of plain parameters is put in one order.
sub normalise_url {
    if (req.url ~ "^/admin/") {
        return (pass);
    }
    # A fragment is never sent by browsers and means nothing to the service.
    if (req.url ~ "#") {
        set req.url = regsub(req.url, "#.*$", "");
    }
    # Sorting puts `?size=m&lang=nl` and `?lang=nl&size=m` in one object, but it must never
    # change what a request means: std.querysort also reorders a repeated name, of which the
    # service reads the last. So only a badge query of plain badge parameters, each named
    # once, is sorted; anything else keeps its order (and gets an object of its own).
    if (req.url ~ "^/b/[^?]*\?((lang|size|scale|d)=[^&]*(&|$))+$"
        && req.url !~ "[?&]lang=.*&lang=|[?&]size=.*&size=|[?&]scale=.*&scale=|[?&]d=.*&d=") {
        set req.url = std.querysort(req.url);
    }
    if (req.url ~ "^/b/") {
        call key_referer;
    }
}

# A badge depends on the Referer's host (registered domain, foreign, none), never on the rest
# of it. Key on the host, and send the backend just that, in the form browsers send across
# sites (`https://host/`), so what it answers for the first request is right for every
# request sharing the key. X-Referer-Host is the key: `none`, that form, or `raw:` and the
# Referer as sent.
sub key_referer {
    if (!req.http.Referer) {
        set req.http.X-Referer-Host = "none";
    } elsif (req.http.Referer ~ "^https://[a-z0-9.-]*[a-z0-9-]/$") {
        # Already in that form (what browsers send): used as it is.
        set req.http.X-Referer-Host = req.http.Referer;
    } elsif (req.http.Referer ~ "^(?i)https?://[a-z0-9.-]+(:[0-9]*)?(?:[/?#]|$)") {
        set req.http.Referer = "https://" + std.tolower(regsub(req.http.Referer,
            "^(?i)https?://([a-z0-9.-]+?)\.?(?::[0-9]*)?(?:[/?#].*)?$", "\1")) + "/";
        set req.http.X-Referer-Host = req.http.Referer;
    } else {
        # Anything odd (user info, an IPv6 literal, another scheme) is keyed on and passed
        # on as sent: the service decides, and the object is never shared.
        set req.http.X-Referer-Host = "raw:" + req.http.Referer;
    }
}

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
    call normalise_host;
    call normalise_coding;
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # The badge URL embed.js writes (`?lang=..&size=..`, then `&d=..`), the bulk of all
    # traffic, in one regex: no fragment, no repeated name, already in one order. It keeps
    # that order (a sorted `d=..&lang=..&size=..` is an object of its own, with the same
    # bytes and keys). Anything else goes through normalise_url.
    if (req.url ~ "^/b/[a-z2-9]{16}\.svg\?lang=[^&#]*&size=[^&#]*(&d=[^&#]*)?$") {
        call key_referer;
    } else {
        call normalise_url;
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
    # The director is asked here, for misses, passes and retries only: a hit never needs it.
    set bereq.backend = app.backend();
    unset bereq.http.X-Referer-Host;
    call strip_unkeyed;
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
    # Every cached object carries a key: `keurmerk` purges everything the service serves.
    if (!beresp.http.xkey) {
        set beresp.http.xkey = "keurmerk";
    }
    # The same keys for other CDNs: not ours to keep (xkey stays, it reads the object's).
    unset beresp.http.Surrogate-Key;
    unset beresp.http.Cache-Tag;
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
    # Badges tell browsers a short max-age (BADGE_MAX_AGE) and the edge a long one
    # (BADGE_EDGE_MAX_AGE, in Surrogate-Control): the edge is purged on every change, and
    # answers browsers' revalidations itself.
    if (beresp.http.Surrogate-Control ~ "max-age=[0-9]+") {
        set beresp.ttl = std.duration(regsub(beresp.http.Surrogate-Control,
            "^.*max-age=([0-9]+).*$", "\1") + "s", 0s);
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
    # The long edge lifetime is ours alone: a cache in front of this one is not purged.
    # And how long the object sat here says nothing of its freshness, since every change
    # purges it: the edge answers as the service would now. An Age, or the stored Date, past
    # the browser's max-age would make every page view a revalidation.
    if (resp.http.Surrogate-Control) {
        unset resp.http.Surrogate-Control;
        unset resp.http.Age;
        set resp.http.Date = now;
    }
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
