// common/base/result.h: the value-or-error type used on every data path.
//
// Protocol errors from peers are values, never exceptions (STYLE.md "three kinds of failure").
// Expected<T, E> holds either a T or an E without allocating; Expected<void, E> is a status.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace onionsplit {

template <class E>
struct Unexpected {
  E error;
};

// Wraps an error so that it converts into any Expected<T, E>.
template <class E>
constexpr Unexpected<std::decay_t<E>> fail(E&& e) {
  return Unexpected<std::decay_t<E>>{std::forward<E>(e)};
}

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  constexpr Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class E2>
  constexpr Expected(Unexpected<E2> u) : v_(std::in_place_index<1>, E(std::move(u.error))) {}

  constexpr bool ok() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return ok(); }

  // Caller's bug to call these on the wrong alternative: std::get throws bad_variant_access.
  constexpr T& value() & { return std::get<0>(v_); }
  constexpr const T& value() const& { return std::get<0>(v_); }
  constexpr T&& value() && { return std::get<0>(std::move(v_)); }
  constexpr const E& error() const { return std::get<1>(v_); }

  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  constexpr Expected() = default;
  template <class E2>
  constexpr Expected(Unexpected<E2> u) : e_(E(std::move(u.error))) {}

  constexpr bool ok() const { return !e_.has_value(); }
  constexpr explicit operator bool() const { return ok(); }
  constexpr const E& error() const { return *e_; }

 private:
  std::optional<E> e_;
};

}  // namespace onionsplit
