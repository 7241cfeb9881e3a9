#pragma once
/// A client of the OCI Distribution API over libcurl: manifests (OCI and Docker schema2, and
/// indexes), blobs with digest verification, cross-repository mounts, monolithic and chunked
/// uploads. Anonymous, basic and bearer-token auth (WWW-Authenticate), credentials from the
/// Docker config. Every request has timeouts; connection errors, 5xx and 429 are retried with
/// exponential backoff and jitter, bounded in count and time. Credentials never appear in
/// errors or logs.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

class RegistryError : public std::runtime_error {
 public:
  RegistryError(const std::string& what, long status = 0, bool transient = false)
      : std::runtime_error(what), status_(status), transient_(transient) {}
  [[nodiscard]] long status() const { return status_; }
  [[nodiscard]] bool transient() const { return transient_; }

 private:
  long status_;
  bool transient_;
};

struct Credentials {
  std::string username;
  std::string password;
};

/// Credentials for `host` from $DOCKER_CONFIG/config.json or ~/.docker/config.json ("auths":
/// base64 "auth", or "username"/"password"). nullopt when there are none.
std::optional<Credentials> docker_credentials(const std::string& host, const char* docker_config_env,
                                              const char* home_env);

struct RetryPolicy {
  int attempts = 5;                                 ///< tries per request, the first included
  std::chrono::milliseconds base{500};              ///< first backoff, doubled each retry (+ jitter)
  std::chrono::milliseconds max_delay{8000};
  std::chrono::milliseconds total{120000};          ///< no retry starts after this much time
};

struct RegistryOptions {
  std::string host;                  ///< host[:port]
  bool plain_http = false;           ///< an insecure registry: plain HTTP
  /// Every host plain HTTP may go to (the registry itself when plain_http, and e.g. a token
  /// service on another port). Everything else is HTTPS only, redirects and realms included,
  /// so that credentials and tokens never cross the network in clear.
  std::vector<std::string> insecure_hosts;
  std::string ca_bundle;             ///< extra CA bundle for TLS ("" = the system's)
  std::optional<Credentials> credentials;
  RetryPolicy retry;
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds request_timeout{120};        ///< for requests without a large body
  std::chrono::seconds stall_timeout{60};           ///< a transfer slower than 1 KiB/s this long fails
  size_t chunk_size = 32u << 20;                    ///< blobs larger than this upload in chunks
};

/// A manifest or index as the registry returned it.
struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  Digest digest;
};

class RegistryClient {
 public:
  RegistryClient(RegistryOptions options, const CancelSource& cancel);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  [[nodiscard]] const std::string& host() const { return opt_.host; }

  /// Checks that the registry answers /v2/ (authenticating if asked to).
  void ping();
  /// The size of a blob, or nullopt when the repository does not have it (HEAD). `for_push`
  /// asks for the push scope at once (one token for a whole push).
  std::optional<int64_t> blob_size(const std::string& repo, const Digest& d, bool for_push = false);
  /// Downloads a blob into `store`, verified against its digest. Returns the bytes received.
  uint64_t fetch_blob(const std::string& repo, const Descriptor& d, Layout& store);
  /// Mounts a blob from another repository of this registry. False when the registry declined
  /// or refused (a 4xx, or no token for the other repository): then nothing was changed.
  bool mount_blob(const std::string& repo, const Digest& d, const std::string& from_repo);
  /// Uploads a blob from a file: monolithic when small, in chunks otherwise.
  void upload_blob(const std::string& repo, const Descriptor& d, const std::filesystem::path& file);
  /// Fetches a manifest or index by tag or digest.
  FetchedManifest get_manifest(const std::string& repo, const std::string& ref);
  /// The descriptor of a manifest by tag or digest, or nullopt when absent (HEAD).
  std::optional<Descriptor> head_manifest(const std::string& repo, const std::string& ref, bool for_push = false);
  /// Puts a manifest under a tag (or its digest).
  void put_manifest(const std::string& repo, const std::string& ref, const std::string& bytes,
                    const std::string& media_type);

  /// Total bytes sent in request bodies and received in responses.
  [[nodiscard]] uint64_t bytes_sent() const;
  [[nodiscard]] uint64_t bytes_received() const;

  struct Impl;

 private:
  RegistryOptions opt_;
  std::unique_ptr<Impl> impl_;
};

/// Parses a WWW-Authenticate header: scheme and parameters (lower-case keys).
struct Challenge {
  std::string scheme;  ///< "basic" or "bearer"
  std::map<std::string, std::string> params;
};
std::optional<Challenge> parse_challenge(const std::string& header);

}  // namespace flavourgraph::oci
