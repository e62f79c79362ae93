package domain

import (
	"encoding/json"
	"errors"
)

func asTypeError(err error, target **json.UnmarshalTypeError) bool { return errors.As(err, target) }

func asDomainError(err error, target **Error) bool { return errors.As(err, target) }
