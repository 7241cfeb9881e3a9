#pragma once
/// A client of the OCI Distribution API: manifests (OCI and Docker schema2, and indexes), blobs
/// with digest verification, cross-repository mounts, monolithic and chunked uploads. The
/// endpoints run over an HTTP transport (libcurl, or a test's) through the auth, retry and
/// redirect layers: every request has timeouts; connection errors, 5xx and 429 are retried
/// with backoff, bounded in count and time. Credentials never appear in errors or logs.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/auth.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/docker_config.h"
#include "flavourgraph/oci/errors.h"
#include "flavourgraph/oci/http.h"
#include "flavourgraph/oci/retry.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

class Layout;

struct RegistryOptions {
  std::string host;                  ///< host[:port]
  bool plain_http = false;           ///< an insecure registry: plain HTTP
  /// Every host plain HTTP may go to (the registry itself when plain_http, and e.g. a token
  /// service on another port). Everything else is HTTPS only, redirects and realms included,
  /// so that credentials and tokens never cross the network in clear.
  std::vector<std::string> insecure_hosts;
  std::optional<Credentials> credentials;
  RetryPolicy retry;
  CurlOptions curl;                                 ///< CA bundle and timeouts of the libcurl transport
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
  /// Over libcurl.
  RegistryClient(RegistryOptions options, const CancelSource& cancel);
  /// Over `transport` (a test's), waiting for retries on `clock`.
  RegistryClient(RegistryOptions options, HttpTransport& transport, const CancelSource& cancel,
                 const Clock& clock = steady_clock_waits());
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
  /// The tags of a repository (empty when it does not exist), every page of the list.
  std::vector<std::string> tags(const std::string& repo);
  /// A small blob (a config), read into memory and verified against its digest.
  std::string read_blob(const std::string& repo, const Descriptor& d);
  /// Deletes a manifest by digest, which drops every tag on it. Throws RegistryError with the
  /// status: 405 (or the error code UNSUPPORTED) when the registry does not allow deletes,
  /// 404 when it has no such manifest.
  void delete_manifest(const std::string& repo, const Digest& d);
  /// Puts a manifest under a tag (or its digest).
  void put_manifest(const std::string& repo, const std::string& ref, const std::string& bytes,
                    const std::string& media_type);

  /// Total bytes sent in request bodies and received in responses.
  [[nodiscard]] uint64_t bytes_sent() const;
  [[nodiscard]] uint64_t bytes_received() const;

 private:
  template <class F>
  auto retried(const std::string& what, F&& f) {
    return with_retries(opt_.retry, clock_, cancel_, what, std::forward<F>(f));
  }
  HttpResponse send(HttpRequest r, const std::string& scope) { return auth_.send(std::move(r), scope); }
  [[nodiscard]] std::string url(const std::string& path) const { return base_ + path; }
  [[nodiscard]] std::string absolute(const std::string& location) const;
  [[nodiscard]] bool insecure(const std::string& host) const;

  RegistryOptions opt_;
  const CancelSource& cancel_;
  const Clock& clock_;
  std::unique_ptr<HttpTransport> owned_;  ///< the libcurl transport, when no other was given
  PolicyTransport policy_;
  Authenticator auth_;
  std::string base_;  ///< scheme://host
};

}  // namespace flavourgraph::oci
