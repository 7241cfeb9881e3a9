#pragma once
/// The one error type at module boundaries. What failed decides the exit status: the
/// configuration or the command line (2), the run's environment (1), a cancellation (130).
/// Functions that may fail either throw Error (or a subclass) or return Expected<T>; the
/// executor turns an exception in a task into that task's failure, and the CLI maps the kind
/// of an escaped Error to the exit status.

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace flavourgraph {

enum class ErrorKind {
  config,     ///< the configuration or the command line: fix the input (exit 2)
  runtime,    ///< the environment: a file, a disk, a registry, a tool (exit 1)
  cancelled,  ///< the run was interrupted (exit 130)
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::runtime)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

/// A value, or the Error that kept it from being made.
template <class T>
class Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}          // NOLINT: implicit, as std::expected
  Expected(Error error) : v_(std::move(error)) {}      // NOLINT
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const T& value() const& {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(v_);
  }
  [[nodiscard]] T&& value() && {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(v_);
  }
  const T* operator->() const { return &value(); }
  T* operator->() { return &**this; }
  /// The error; only when !ok().
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  /// The error's message, "" when ok().
  [[nodiscard]] std::string message() const { return ok() ? std::string() : std::get<1>(v_).what(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace flavourgraph
