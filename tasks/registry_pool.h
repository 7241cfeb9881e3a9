#pragma once
/// Registry clients shared by the tasks of a build (one per host, reusing connections), and
/// the bookkeeping that makes a blob upload once per run: a push that needs a blob another
/// push is uploading waits for it, then mounts it.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/registry.h"

namespace flavourgraph {

struct RegistrySettings {
  std::vector<std::string> insecure;  ///< hosts spoken to over plain HTTP
  std::string ca_bundle;
  int retries = 5;                    ///< attempts per request
  oci::RetryPolicy retry;
};

class RegistryPool {
 public:
  RegistryPool(RegistrySettings settings, const CancelSource& cancel);
  oci::RegistryClient& client(const std::string& host);
  [[nodiscard]] bool insecure(const std::string& host) const;

  /// Before pushing blob `digest`: waits while another task uploads it, then returns the
  /// repositories known to hold it (on `host`). The caller must call finish().
  std::vector<std::string> begin_blob(const std::string& host, const std::string& digest);
  /// After: records that `repo` now holds the blob ("" when the push failed).
  void finish_blob(const std::string& host, const std::string& digest, const std::string& repo);

 private:
  RegistrySettings settings_;
  const CancelSource& cancel_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<oci::RegistryClient>> clients_;
  struct BlobState {
    bool busy = false;
    std::vector<std::string> repos;
  };
  std::map<std::string, BlobState> blobs_;  ///< host + digest
};

}  // namespace flavourgraph
