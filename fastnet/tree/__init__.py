"""keras.tree: utilities over nested structures (lists, tuples, namedtuples, dicts).

Keras 3's semantics (its optree implementation, ``none_is_leaf=True``): list, tuple,
namedtuple and dict (and its subclasses) are nodes, everything else — None included —
is a leaf; a dict's children are in sorted-key order (an OrderedDict's in insertion
order), so ``flatten({"b": 1, "a": 2}) == [2, 1]``; a list and a tuple are different
structures.
"""

import collections

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten",
           "flatten_with_path", "is_nested", "lists_to_tuples", "map_shape_structure",
           "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse"]


class MAP_TO_NONE:  # noqa: N801 (Keras's name)
    """Return this class from a ``traverse`` function to put None in the output."""


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(structure):
    """Whether `structure` is a list, tuple or dict (not a leaf)."""
    return isinstance(structure, (list, tuple, dict))


def _keys(node):
    if isinstance(node, collections.OrderedDict):
        return list(node.keys())
    try:
        return sorted(node.keys())
    except TypeError:
        raise TypeError("tree: the keys of a dict must be sortable (they order its "
                        f"children). Received keys: {list(node.keys())}") from None


def _children(node):
    """(path keys, children) of a node."""
    if isinstance(node, dict):
        keys = _keys(node)
        return keys, [node[k] for k in keys]
    return list(range(len(node))), list(node)


def _rebuild(node, children):
    """A node like `node` holding `children` (in _children's order)."""
    if isinstance(node, dict):
        keys = _keys(node)
        if isinstance(node, collections.defaultdict):
            out = collections.defaultdict(node.default_factory)
        elif type(node) in (dict, collections.OrderedDict):
            out = type(node)()
        else:
            try:
                out = type(node)()
            except TypeError:
                out = {}
        for k, c in zip(keys, children):
            out[k] = c
        if isinstance(node, collections.OrderedDict) or type(node) is dict:
            # a plain dict keeps the caller's key order, as optree does on unflatten
            out = type(out)((k, out[k]) for k in node.keys())
        return out
    if _is_namedtuple(node):
        return type(node)(*children)
    if isinstance(node, tuple):
        return tuple(children) if type(node) is tuple else type(node)(children)
    return list(children)


def _flatten_with_path(structure, prefix, out):
    if not is_nested(structure):
        out.append((prefix, structure))
        return
    for key, child in zip(*_children(structure)):
        _flatten_with_path(child, prefix + (key,), out)


def flatten(structure):
    """The leaves of `structure`, depth first (dict children by sorted key)."""
    return [leaf for _, leaf in flatten_with_path(structure)]


def flatten_with_path(structure):
    """[(path, leaf)]: path a tuple of the keys/indices from the root to the leaf."""
    out = []
    _flatten_with_path(structure, (), out)
    return out


def _signature(x):
    if isinstance(x, dict):
        return ("dict", tuple(_keys(x)))
    if _is_namedtuple(x):
        return (type(x), len(x))
    if isinstance(x, tuple):
        return ("tuple", len(x))
    return ("list", len(x))


def _same(a, b):
    if is_nested(a) != is_nested(b):
        return False
    if not is_nested(a):
        return True
    if _signature(a) != _signature(b):
        return False
    return all(_same(x, y) for x, y in zip(_children(a)[1], _children(b)[1]))


def assert_same_structure(a, b):
    """Raises ValueError unless `a` and `b` have the same nesting (leaves may differ)."""
    if not _same(a, b):
        raise ValueError("Structures don't have the same nested structure.\n"
                         f"First structure: {a}\nSecond structure: {b}")


def assert_same_paths(a, b):
    """Raises ValueError unless `a` and `b` have the same set of leaf paths (the node
    types may differ: a list and a tuple of two have the same paths)."""
    a_paths = {p for p, _ in flatten_with_path(a)}
    b_paths = {p for p, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        msg = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            msg += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            msg += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(msg)


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied to the corresponding leaves of the structures (which must share
    their nesting), in a structure like the first. ``none_is_leaf=False`` keeps None
    entries as None without calling ``func`` on them."""
    if not structures:
        raise ValueError("Must provide at least one structure")
    for s in structures[1:]:
        assert_same_structure(structures[0], s)

    def walk(*nodes):
        head = nodes[0]
        if not is_nested(head):
            if not none_is_leaf and head is None:
                return None
            return func(*nodes)
        kids = [_children(n)[1] for n in nodes]
        return _rebuild(head, [walk(*c) for c in zip(*kids)])

    return walk(*structures)


def map_structure_up_to(shallow_structure, func, *structures):
    """As map_structure, but only down to the leaves of `shallow_structure`: ``func``
    gets the (possibly nested) sub-structures found there."""
    if not structures:
        raise ValueError("Must provide at least one structure")

    def walk(shallow, nodes):
        if not is_nested(shallow):
            return func(*nodes)
        for n in nodes:
            if not is_nested(n) or _signature(n) != _signature(shallow):
                raise ValueError("Structures don't have the same nested structure: "
                                 f"{shallow} is not a prefix of {n}")
        kids = [_children(n)[1] for n in nodes]
        return _rebuild(shallow, [walk(s, list(c)) for s, c in
                                  zip(_children(shallow)[1], zip(*kids))])

    return walk(shallow_structure, list(structures))


def pack_sequence_as(structure, flat_sequence):
    """`flat_sequence`'s items put in the nesting of `structure` (flatten's inverse)."""
    flat = list(flat_sequence)
    count = len(flatten(structure))
    if len(flat) != count:
        raise ValueError(f"The target structure has {count} leaves, but `flat_sequence` has "
                         f"{len(flat)} items.\nStructure: {structure}")
    it = iter(flat)

    def walk(node):
        if not is_nested(node):
            return next(it)
        return _rebuild(node, [walk(c) for c in _children(node)[1]])

    return walk(structure)


def traverse(func, structure, top_down=True):
    """Applies ``func`` to every node and leaf. Top down: where ``func`` returns None
    the traversal goes on into the children, otherwise its value replaces the
    sub-structure; bottom up: ``func`` sees the already traversed node, and None keeps
    it. Returning MAP_TO_NONE puts None there."""
    def children_of(node):
        if not is_nested(node):
            return node
        return _rebuild(node, [traverse(func, c, top_down) for c in _children(node)[1]])

    if top_down:
        ret = func(structure)
        if ret is None:
            return children_of(structure)
    else:
        done = children_of(structure)
        ret = func(done)
        if ret is None:
            return done
    if ret is MAP_TO_NONE:
        return None
    return ret


def lists_to_tuples(structure):
    """Every list in `structure` made a tuple."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure,
                    top_down=False)


def map_shape_structure(func, structure):
    """map_structure where a list or tuple of ints and Nones (a shape) is a leaf."""
    def is_shape(x):
        return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None)))
                                                    for e in x)

    def walk(node):
        if is_shape(node) or not is_nested(node):
            return func(node)
        return _rebuild(node, [walk(c) for c in _children(node)[1]])

    return walk(structure)
