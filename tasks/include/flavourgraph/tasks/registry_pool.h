#pragma once
/// Registry clients shared by the tasks of a build: one per host, reusing connections.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/registry.h"

namespace flavourgraph {

struct RegistrySettings {
  std::vector<std::string> insecure;  ///< hosts spoken to over plain HTTP
  std::string ca_bundle;
  int retries = 5;                    ///< attempts per request
  std::string docker_config;          ///< $DOCKER_CONFIG ("" when unset)
  std::string home;                   ///< $HOME, for ~/.docker/config.json
  oci::RetryPolicy retry;
};

class RegistryPool {
 public:
  RegistryPool(RegistrySettings settings, const CancelSource& cancel);
  /// Every client runs over `transport` (a test's fake) instead of libcurl.
  RegistryPool(RegistrySettings settings, const CancelSource& cancel, oci::HttpTransport& transport);
  oci::RegistryClient& client(const std::string& host);
  [[nodiscard]] bool insecure(const std::string& host) const;

 private:
  RegistrySettings settings_;
  const CancelSource& cancel_;
  oci::HttpTransport* transport_ = nullptr;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<oci::RegistryClient>> clients_;
};

}  // namespace flavourgraph
