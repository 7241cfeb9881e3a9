#pragma once
/// The OCI library's errors: all are flavourgraph::Error (the environment's fault, exit 1),
/// with what a caller needs to react.

#include <string>

#include "flavourgraph/error.h"

namespace flavourgraph::oci {

/// A layout (the store, a base, a push target) cannot be read or written.
class StoreError : public Error {
 public:
  explicit StoreError(std::string message) : Error(std::move(message)) {}
};

/// What was asked for is not there (an image name a layout does not hold).
class NotFound : public StoreError {
 public:
  explicit NotFound(std::string message) : StoreError(std::move(message)) {}
};

/// A registry exchange failed: its HTTP status (0 for transport errors) and whether asking
/// again may succeed (connection errors, 5xx, 429).
class RegistryError : public Error {
 public:
  explicit RegistryError(std::string message, long status = 0, bool transient = false)
      : Error(std::move(message)), status_(status), transient_(transient) {}
  [[nodiscard]] long status() const { return status_; }
  [[nodiscard]] bool transient() const { return transient_; }

 private:
  long status_;
  bool transient_;
};

/// The run was cancelled while the operation was under way.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled", ErrorKind::cancelled) {}
};

}  // namespace flavourgraph::oci
